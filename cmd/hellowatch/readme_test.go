package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hellowatch/hellowatch/report"
)

// TestREADMEExamples runs every command the README shows with its output
// (a fenced block whose first line is `$ hellowatch ...` or
// `$ bin/hellowatch ...`) and compares what it prints, stdout then stderr,
// with the lines shown. A line "..." stands for any number of lines; the
// run-dependent duration of the summary is ignored. Commands without
// --format run as on a terminal: text output.
func TestREADMEExamples(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, block := range fencedBlocks(string(b)) {
		cmdline, ok := strings.CutPrefix(block[0], "$ ")
		if !ok {
			continue
		}
		args := strings.Fields(cmdline)
		if args[0] != "hellowatch" && args[0] != "bin/hellowatch" {
			continue
		}
		n++
		args = args[1:]
		for i, a := range args {
			if strings.HasPrefix(a, "samples/") {
				args[i] = filepath.Join("..", "..", a)
			}
		}
		if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--format") }) {
			args = append(args, "--format", "text")
		}
		t.Run(cmdline, func(t *testing.T) {
			stdout, stderr, code := runCmd(t, args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			got := strings.Split(strings.TrimRight(stripTiming(stdout+stderr), "\n"), "\n")
			want := strings.Split(strings.TrimRight(stripTiming(strings.Join(block[1:], "\n")), "\n"), "\n")
			if !matchLines(want, got) {
				t.Errorf("the README shows:\n%s\nthe command prints:\n%s", strings.Join(want, "\n"), strings.Join(got, "\n"))
			}
		})
	}
	if n == 0 {
		t.Fatal("no `$ hellowatch` example found in the README")
	}
}

// fencedBlocks returns the lines of every ``` block of a Markdown text.
func fencedBlocks(md string) [][]string {
	var blocks [][]string
	var cur []string
	in := false
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "```") {
			if in && len(cur) > 0 {
				blocks = append(blocks, cur)
			}
			in, cur = !in, nil
			continue
		}
		if in {
			cur = append(cur, l)
		}
	}
	return blocks
}

// matchLines reports whether got matches want, where a want line "..."
// matches any run of lines (none included).
func matchLines(want, got []string) bool {
	if len(want) == 0 {
		return len(got) == 0
	}
	if want[0] == "..." {
		for i := 0; i <= len(got); i++ {
			if matchLines(want[1:], got[i:]) {
				return true
			}
		}
		return false
	}
	return len(got) > 0 && got[0] == want[0] && matchLines(want[1:], got[1:])
}

// TestDocsEnvNames: every HELLOWATCH_* variable the README, the Dockerfile
// and the deploy/ examples set is one the command reads (a flag's name or
// its alias), so that no example configures a setting that is ignored.
func TestDocsEnvNames(t *testing.T) {
	valid := map[string]bool{}
	newFlagSet(&options{}, io.Discard).VisitAll(func(f *flag.Flag) {
		if a, ok := flagEnvAliases[f.Name]; ok {
			valid[a] = true
		} else {
			valid[envName(f.Name)] = true
		}
	})
	files := []string{filepath.Join("..", "..", "README.md"), filepath.Join("..", "..", "Dockerfile")}
	deploy, _ := filepath.Glob(filepath.Join("..", "..", "deploy", "*", "*.y*ml"))
	top, _ := filepath.Glob(filepath.Join("..", "..", "deploy", "*.y*ml"))
	files = append(append(files, deploy...), top...)
	re := regexp.MustCompile(`\bHELLOWATCH_[A-Z0-9_]*[A-Z0-9]\b`)
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range re.FindAllString(string(b), -1) {
			n++
			if !valid[name] {
				t.Errorf("%s sets %s, which hellowatch does not read", f, name)
			}
		}
	}
	if n == 0 {
		t.Fatal("no HELLOWATCH_ variable found in the docs and deploy examples")
	}
}

// TestREADMEJSONKeys: the README's table of JSON keys names exactly the
// keys of the contract, report.JSONKeys.
func TestREADMEJSONKeys(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## JSON lines")
	if !ok {
		t.Fatal(`no "## JSON lines" section in the README`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var documented []string
	for _, l := range strings.Split(section, "\n") {
		if !strings.HasPrefix(l, "| `") {
			continue
		}
		first, _, _ := strings.Cut(strings.TrimPrefix(l, "| "), " |")
		for _, m := range regexp.MustCompile("`([a-z0-9_]+)`").FindAllStringSubmatch(first, -1) {
			documented = append(documented, m[1])
		}
	}
	keys := slices.Clone(report.JSONKeys)
	slices.Sort(keys)
	slices.Sort(documented)
	if !slices.Equal(documented, keys) {
		t.Errorf("the README's JSON table names\n%q\nreport.JSONKeys holds\n%q", documented, keys)
	}
}
