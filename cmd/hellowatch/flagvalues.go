package main

import (
	"fmt"
	"log/slog"
	"strings"
)

// choiceValue is a string flag that accepts only one of a closed set of
// words. Checking in Set makes a bad value fail the same way from the
// command line (exit 2 with the usage) and from the environment (exit 2
// naming the variable), instead of silently meaning something else.
type choiceValue struct {
	p       *string
	choices []string
}

// newChoice sets *p to def and returns a flag.Value accepting choices.
func newChoice(p *string, def string, choices ...string) *choiceValue {
	*p = def
	return &choiceValue{p: p, choices: choices}
}

func (c *choiceValue) String() string {
	if c == nil || c.p == nil {
		return ""
	}
	return *c.p
}

func (c *choiceValue) Set(v string) error {
	for _, ch := range c.choices {
		if v == ch {
			*c.p = v
			return nil
		}
	}
	return fmt.Errorf("must be one of %s", strings.Join(c.choices, ", "))
}

// checkedString is a string flag whose value is checked by check in Set.
type checkedString struct {
	p     *string
	check func(string) error
}

func (c *checkedString) String() string {
	if c == nil || c.p == nil {
		return ""
	}
	return *c.p
}

func (c *checkedString) Set(v string) error {
	if err := c.check(v); err != nil {
		return err
	}
	*c.p = v
	return nil
}

// checkLogLevel accepts what slog.Level.UnmarshalText accepts (debug, info,
// warn, error, optionally with an offset such as info+2).
func checkLogLevel(s string) error {
	var l slog.Level
	return l.UnmarshalText([]byte(s))
}

// checkFailOn accepts "" and what parseFailOn accepts.
func checkFailOn(s string) error {
	_, err := parseFailOn(s)
	return err
}
