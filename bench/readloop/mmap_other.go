//go:build !unix

package main

import (
	"errors"
	"os"
)

func mapFile(*os.File, int64) ([]byte, func(), error) {
	return nil, nil, errors.New("-mmap: no mmap on this system")
}
