package conf

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzLoadDump feeds arbitrary text as `nginx -T` output: loading either
// works or fails with a *Error, never panics or hangs, and a loaded
// configuration can be analysed and checked; every finding names a file
// of the input and a line within it.
func FuzzLoadDump(f *testing.F) {
	for _, s := range []string{
		"# configuration file /n.conf:\nhttp { proxy_ssl_server_name on; upstream u { server 10.0.0.1; } map $a $b { default u; x 1.2.3.4:5; } server { location / { proxy_pass https://$b; } } }\n",
		"# configuration file /n.conf:\ninclude /i/*.conf;\n# configuration file /i/a.conf:\nstream { proxy_ssl on; server { proxy_pass 10.0.0.1:443; proxy_ssl_name \"$x\"; } }\n",
		"# configuration file /n.conf:\nhttp { server { location ~ \"^/a{1,2}\" { set $x '${y}z'; grpc_pass grpcs://$x; proxy_ssl_protocols SSLv3; } } }\n",
		"# configuration file /n.conf:\ninclude /n.conf;\n",
		"# configuration file /n.conf:\nhttp { server {\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := LoadDump(bytes.NewReader(in), "-")
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *conf.Error", err)
			}
			return
		}
		for _, fd := range Check(Analyze(c)) {
			if fd.Line < 1 || !strings.Contains(string(in), "# configuration file "+fd.File+":") {
				t.Fatalf("finding at %s:%d, not a place in the input", fd.File, fd.Line)
			}
		}
	})
}
