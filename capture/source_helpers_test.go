package capture

import (
	"bufio"
	"encoding/binary"
	"io"
)

func bufioReader(r io.Reader) io.Reader { return bufio.NewReaderSize(r, 1<<20) }

func bigEndian() binary.ByteOrder { return binary.BigEndian }
