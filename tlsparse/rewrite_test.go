package tlsparse

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

var testShare = bytes.Repeat([]byte{9}, 32)

// rewriteCase is one edit the tests apply to every real hello.
type rewriteCase struct {
	name string
	edit HelloEdit
}

func rewriteCases() []rewriteCase {
	return []rewriteCase{
		{"sni", HelloEdit{SetServerName: true, ServerName: []byte("abc.example.com")}},
		{"long-sni", HelloEdit{SetServerName: true, ServerName: bytes.Repeat([]byte("a"), 300)}},
		{"versions", HelloEdit{Versions: []Version{VersionTLS13, VersionTLS12}, X25519Share: testShare}},
		{"alpn", HelloEdit{SetALPN: true, ALPN: [][]byte{[]byte("h2"), []byte("http/1.1")}}},
		{"no-alpn", HelloEdit{SetALPN: true}},
		{"classic", HelloEdit{ClassicGroupsOnly: true, X25519Share: testShare}},
		{"all", HelloEdit{SetServerName: true, ServerName: []byte("x.example"),
			Versions: []Version{VersionTLS13, VersionTLS12}, SetALPN: true, ALPN: [][]byte{[]byte("h2")},
			ClassicGroupsOnly: true, X25519Share: testShare}},
	}
}

// rawExts lists a parsed body's extensions with their bodies.
func rawExts(t testing.TB, body []byte) []rawExt {
	t.Helper()
	c := cursor{b: body}
	var sid, suites, comp, exts cursor
	if !c.skip(34) || !c.vec8(&sid) || !c.vec16(&suites) || !c.vec8(&comp) {
		t.Fatal("bad hello prefix")
	}
	if c.empty() {
		return nil
	}
	c.vec16(&exts)
	var out []rawExt
	for !exts.empty() {
		var typ uint16
		var d cursor
		exts.u16(&typ)
		exts.vec16(&d)
		out = append(out, rawExt{ExtensionType(typ), d.b})
	}
	return out
}

// checkRewrite asserts what every rebuilt hello must satisfy, and what the
// edit promised.
func checkRewrite(t *testing.T, orig, got []byte, e *HelloEdit) {
	t.Helper()
	var o, n ClientHello
	if err := ParseClientHello(orig, &o); err != nil {
		t.Fatal(err)
	}
	if err := ParseClientHello(got, &n); err != nil {
		t.Fatalf("rebuilt hello does not parse: %v", err)
	}
	if n.ExtensionError != nil || n.DuplicateExtension {
		t.Fatalf("rebuilt hello: extension error %v, duplicate %v", n.ExtensionError, n.DuplicateExtension)
	}
	if !bytes.Equal(n.Random, o.Random) || !bytes.Equal(n.SessionID, o.SessionID) {
		t.Error("random or session id changed")
	}
	upgraded := slices.Contains(e.Versions, VersionTLS13) && !slices.Contains(o.SupportedVersions, VersionTLS13)
	if !upgraded && (!slices.Equal(n.CipherSuites, o.CipherSuites) || n.LegacyVersion != o.LegacyVersion ||
		!bytes.Equal(n.CompressionMethods, o.CompressionMethods)) {
		t.Error("cipher suites, legacy version or compression changed")
	}
	if n.HasPSK || n.EarlyData {
		t.Error("pre_shared_key or early_data kept: its binder no longer matches")
	}
	// Order: the original's extensions (less pre_shared_key, early_data
	// and padding) appear in the same order; every extension the edit did
	// not touch has the same body.
	oe, ne := rawExts(t, orig), rawExts(t, got)
	touched := map[ExtensionType]bool{ExtPadding: true}
	if e.SetServerName {
		touched[ExtServerName] = true
	}
	if len(e.Versions) > 0 {
		touched[ExtSupportedVersions] = true
		if upgraded {
			touched[ExtSupportedGroups], touched[ExtKeyShare], touched[ExtSignatureAlgorithms] = true, true, true
		}
	}
	if e.SetALPN {
		touched[ExtALPN] = true
	}
	if e.ClassicGroupsOnly {
		touched[ExtSupportedGroups], touched[ExtKeyShare] = true, true
	}
	j := 0
	for _, x := range oe {
		if x.typ == ExtPreSharedKey || x.typ == ExtEarlyData || x.typ == ExtPadding && !n.HasExtension(ExtPadding) ||
			x.typ == ExtALPN && e.SetALPN && len(e.ALPN) == 0 {
			continue
		}
		for j < len(ne) && ne[j].typ != x.typ {
			j++
		}
		if j == len(ne) {
			t.Fatalf("extension %v lost or out of order:\n was %v\n now %v", x.typ, o.Extensions, n.Extensions)
		}
		if !touched[x.typ] && !bytes.Equal(ne[j].data, x.data) {
			t.Errorf("extension %v changed", x.typ)
		}
	}
	if i := slices.Index(n.Extensions, ExtPreSharedKey); i >= 0 && i != len(n.Extensions)-1 {
		t.Error("pre_shared_key is not last")
	}
	// Padding, by OpenSSL's rule.
	msgLen := 4 + len(got)
	if n.HasExtension(ExtPadding) {
		if msgLen != 512 && msgLen-4-n.PaddingLen <= 0xff {
			t.Errorf("padded to %d bytes", msgLen)
		}
	} else if o.HasExtension(ExtPadding) && msgLen > 0xff && msgLen < 0x200 {
		t.Errorf("padding dropped but the hello is %d bytes", msgLen)
	}
	if e.SetServerName {
		if !n.HasSNI || len(n.ServerNames) != 1 || !bytes.Equal(n.ServerName(), e.ServerName) {
			t.Errorf("server name %q, want %q", n.ServerNames, e.ServerName)
		}
		if !o.HasExtension(ExtServerName) {
			at := 0
			if len(o.Extensions) > 0 && IsGREASE(uint16(o.Extensions[0])) {
				at = 1
			}
			if n.Extensions[at] != ExtServerName {
				t.Errorf("server_name added at %d: %v", slices.Index(n.Extensions, ExtServerName), n.Extensions)
			}
		}
	}
	if len(e.Versions) > 0 {
		var want []Version
		for _, v := range o.SupportedVersions {
			if IsGREASE(uint16(v)) {
				want = append(want, v)
			}
		}
		want = append(want, e.Versions...)
		if !slices.Equal(n.SupportedVersions, want) {
			t.Errorf("supported_versions %v, want %v", n.SupportedVersions, want)
		}
		if slices.Contains(e.Versions, VersionTLS13) {
			if !slices.ContainsFunc(n.CipherSuites, func(c CipherSuite) bool { return c>>8 == 0x13 }) {
				t.Error("no TLS 1.3 cipher suite")
			}
			if !slices.Contains(n.SupportedGroups, GroupX25519) && !slices.ContainsFunc(n.KeyShares, func(k KeyShare) bool {
				return slices.Contains(n.SupportedGroups, k.Group)
			}) {
				t.Errorf("no usable group: groups %v shares %v", n.SupportedGroups, n.KeyShares)
			}
			if !n.HasExtension(ExtKeyShare) || !n.HasExtension(ExtSignatureAlgorithms) {
				t.Error("TLS 1.3 hello without key_share or signature_algorithms")
			}
			if n.LegacyVersion != VersionTLS12 && !slices.Contains(o.SupportedVersions, VersionTLS13) {
				t.Errorf("legacy_version %v", n.LegacyVersion)
			}
		}
	}
	if e.SetALPN {
		var got [][]byte
		got = append(got, n.ALPN...)
		if len(got) != len(e.ALPN) {
			t.Errorf("ALPN %q, want %q", got, e.ALPN)
		}
		for i := range got {
			if i < len(e.ALPN) && !bytes.Equal(got[i], e.ALPN[i]) {
				t.Errorf("ALPN %q, want %q", got, e.ALPN)
			}
		}
	}
	if e.ClassicGroupsOnly {
		for _, g := range n.SupportedGroups {
			if g.IsPostQuantum() {
				t.Errorf("group %v kept", g)
			}
		}
		classic := false
		for _, k := range n.KeyShares {
			if k.Group.IsPostQuantum() {
				t.Errorf("share %v kept", k.Group)
			}
			if !IsGREASE(uint16(k.Group)) {
				classic = true
				if !slices.Contains(n.SupportedGroups, k.Group) {
					t.Errorf("share %v for a group not offered", k.Group)
				}
			}
		}
		if o.HasExtension(ExtKeyShare) && !classic && len(e.X25519Share) == 32 {
			t.Error("no classic key share left")
		}
	}
}

func TestRewriteRealHellos(t *testing.T) {
	for _, h := range realHellos(t) {
		for _, c := range rewriteCases() {
			t.Run(h.name+"/"+c.name, func(t *testing.T) {
				got, err := RewriteClientHello(nil, h.body, &c.edit)
				if err != nil {
					t.Fatal(err)
				}
				checkRewrite(t, h.body, got, &c.edit)
				// As records: the stream parser sees the same message.
				rec := AppendClientHelloRecords(nil, VersionTLS10, got)
				var r recorder
				var s Stream
				if err := s.Feed(rec, &r); err != nil || len(r.hs) != 1 || !bytes.Equal(r.hs[0].body, got) {
					t.Fatalf("records do not parse back: %v", err)
				}
			})
		}
	}
}

// TestRewriteIdentity: a zero edit rebuilds every real hello byte for byte
// (none offers a PSK): the serializer is exact, padding included (curl and
// OpenSSL pad by the rule the rewriter uses).
func TestRewriteIdentity(t *testing.T) {
	for _, h := range realHellos(t) {
		got, err := RewriteClientHello(nil, h.body, &HelloEdit{})
		if err != nil {
			t.Fatalf("%s: %v", h.name, err)
		}
		if !bytes.Equal(got, h.body) {
			t.Errorf("%s: zero edit changed the hello (%d -> %d bytes)", h.name, len(h.body), len(got))
		}
		body, rv, n, err := ClientHelloFromRecords(h.stream)
		if err != nil || !bytes.Equal(body, h.body) || n > len(h.stream) {
			t.Errorf("%s: ClientHelloFromRecords: %v (n %d)", h.name, err, n)
		}
		if out := AppendClientHelloRecords(nil, rv, body); !bytes.Equal(out, h.stream[:n]) {
			t.Errorf("%s: records not rebuilt byte for byte", h.name)
		}
	}
}

// TestRewriteFingerprints pins that fingerprints follow the change: JA4's
// SNI flag and ALPN characters, JA3's extension list.
func TestRewriteFingerprints(t *testing.T) {
	for _, h := range realHellos(t) {
		if h.name != "nginx-proxy-nosni" {
			continue
		}
		var o ClientHello
		ParseClientHello(h.body, &o)
		e := HelloEdit{SetServerName: true, ServerName: []byte("abc.example.com"),
			SetALPN: true, ALPN: [][]byte{[]byte("h2"), []byte("http/1.1")}}
		got, err := RewriteClientHello(nil, h.body, &e)
		if err != nil {
			t.Fatal(err)
		}
		var n ClientHello
		ParseClientHello(got, &n)
		oj, nj := string(o.JA4(nil)), string(n.JA4(nil))
		if oj[3] != 'i' || nj[3] != 'd' || nj[8:10] != "h2" || oj == nj {
			t.Errorf("JA4 %s -> %s", oj, nj)
		}
		if string(o.JA3(nil)) == string(n.JA3(nil)) {
			t.Error("JA3 unchanged")
		}
	}
}

// TestRewritePQ: the post-quantum hellos (Chromium, Go) shrink below one
// 1460-byte segment with classic groups only.
func TestRewritePQ(t *testing.T) {
	seen := 0
	for _, h := range realHellos(t) {
		var o ClientHello
		ParseClientHello(h.body, &o)
		if !slices.ContainsFunc(o.KeyShares, func(k KeyShare) bool { return k.Group.IsPostQuantum() }) {
			continue
		}
		seen++
		got, err := RewriteClientHello(nil, h.body, &HelloEdit{ClassicGroupsOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		rec := AppendClientHelloRecords(nil, VersionTLS10, got)
		if len(h.stream) <= 1460 || len(rec) > 1460 {
			t.Errorf("%s: %d bytes -> %d", h.name, len(h.stream), len(rec))
		}
	}
	if seen == 0 {
		t.Fatal("no post-quantum hello in testdata/hellos")
	}
}

// TestRewriteTLS12Upgrade builds a TLS 1.3 hello out of a TLS 1.2-only one
// with no key_share, supported_groups or signature_algorithms at all.
func TestRewriteTLS12Upgrade(t *testing.T) {
	body := []byte{3, 1}
	body = append(body, make([]byte, 32)...)
	body = append(body, 0, 0, 2, 0xc0, 0x2f, 1, 0)
	e := HelloEdit{Versions: []Version{VersionTLS13, VersionTLS12}, X25519Share: testShare}
	got, err := RewriteClientHello(nil, body, &e)
	if err != nil {
		t.Fatal(err)
	}
	checkRewrite(t, body, got, &e)
	var n ClientHello
	ParseClientHello(got, &n)
	if !slices.Equal(n.CipherSuites, []CipherSuite{0x1301, 0x1302, 0x1303, 0xc02f}) ||
		!slices.Equal(n.KeyShares, []KeyShare{{GroupX25519, 32}}) || n.LegacyVersion != VersionTLS12 {
		t.Errorf("suites %v shares %v legacy %v", n.CipherSuites, n.KeyShares, n.LegacyVersion)
	}
	if _, err := RewriteClientHello(nil, body, &HelloEdit{Versions: []Version{VersionTLS13}}); !errors.Is(err, ErrRewrite) {
		t.Errorf("TLS 1.3 upgrade without a share: %v", err)
	}
}

func TestRewriteErrors(t *testing.T) {
	h := realHellos(t)[0].body
	sni := &HelloEdit{SetServerName: true, ServerName: []byte("a.example")}
	for i := range h {
		var ch ClientHello
		if ParseClientHello(h[:i], &ch) == nil {
			continue // ends after the compression methods: a hello without extensions
		}
		if _, err := RewriteClientHello(nil, h[:i], sni); err == nil {
			t.Fatalf("prefix %d rewritten", i)
		}
	}
	// A duplicated extension that the edit must change.
	dup := []byte{3, 3}
	dup = append(dup, make([]byte, 32)...)
	dup = append(dup, 0, 0, 2, 0x13, 0x01, 1, 0, 0, 16, 0, 0, 0, 4, 0, 2, 0, 0, 0, 0, 0, 4, 0, 2, 0, 0)
	if _, err := RewriteClientHello(nil, dup, sni); !errors.Is(err, ErrRewrite) {
		t.Errorf("duplicate server_name: %v", err)
	}
	if _, err := RewriteClientHello(nil, h, &HelloEdit{SetALPN: true, ALPN: [][]byte{{}}}); !errors.Is(err, ErrRewrite) {
		t.Errorf("empty ALPN name: %v", err)
	}
	for _, b := range [][]byte{nil, {22, 3, 1, 0}, {23, 3, 3, 0, 1, 1}, {22, 3, 1, 0, 4, 2, 0, 0, 0}, {22, 3, 1, 0, 4, 1, 1, 0, 0}} {
		if _, _, _, err := ClientHelloFromRecords(b); err == nil {
			t.Errorf("%x: no error", b)
		}
	}
}

// TestClientHelloFromRecordsFragmented: a hello split across records (and
// behind empty records) is joined; n ends at the last record.
func TestClientHelloFromRecordsFragmented(t *testing.T) {
	h := realHellos(t)[0].body
	one := AppendClientHelloRecords(nil, VersionTLS10, h)
	msg := one[5:]
	var rec []byte
	rec = append(rec, 22, 3, 1, 0, 0)
	for i := 0; i < len(msg); i += 7 {
		part := msg[i:min(i+7, len(msg))]
		rec = append(rec, 22, 3, 1, 0, byte(len(part)))
		rec = append(rec, part...)
	}
	tail := append(slices.Clone(rec), 23, 3, 3, 0, 1, 0)
	body, rv, n, err := ClientHelloFromRecords(tail)
	if err != nil || !bytes.Equal(body, h) || rv != VersionTLS10 || n != len(rec) {
		t.Fatalf("err %v n %d/%d equal %v", err, n, len(rec), bytes.Equal(body, h))
	}
	for i := range rec {
		if _, _, _, err := ClientHelloFromRecords(rec[:i]); !errors.Is(err, ErrIncomplete) {
			t.Fatalf("prefix %d: %v", i, err)
		}
	}
	// A 20 KB hello goes out in two records.
	big, err := RewriteClientHello(nil, h, &HelloEdit{SetServerName: true, ServerName: bytes.Repeat([]byte("a"), 20000)})
	if err != nil {
		t.Fatal(err)
	}
	out := AppendClientHelloRecords(nil, VersionTLS12, big)
	if b, _, n, err := ClientHelloFromRecords(out); err != nil || !bytes.Equal(b, big) || n != len(out) || n != len(big)+4+10 {
		t.Fatalf("big: %v %d", err, n)
	}
}

func FuzzRewriteClientHello(f *testing.F) {
	for _, b := range seedBodies(f) {
		f.Add(b, uint8(0x1f), "abc.example.com")
	}
	f.Add([]byte{3, 1, 0}, uint8(3), "")
	f.Fuzz(func(t *testing.T, b []byte, flags uint8, name string) {
		e := HelloEdit{X25519Share: testShare}
		if flags&1 != 0 {
			e.SetServerName, e.ServerName = true, []byte(name)
		}
		if flags&2 != 0 {
			e.Versions = []Version{VersionTLS13, VersionTLS12}
		}
		if flags&4 != 0 {
			e.SetALPN = true
			if name != "" && len(name) < 256 {
				e.ALPN = [][]byte{[]byte(name), []byte("h2")}
			}
		}
		if flags&8 != 0 {
			e.ClassicGroupsOnly = true
		}
		if flags&16 != 0 {
			e.X25519Share = nil
		}
		got, err := RewriteClientHello(nil, b, &e)
		var in ClientHello
		perr := ParseClientHello(b, &in)
		if perr != nil {
			if err == nil {
				t.Fatal("a hello that does not parse was rewritten")
			}
			return
		}
		if err != nil {
			if !errors.Is(err, ErrRewrite) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if e.SetServerName && len(name) == 0 {
			// An empty host name is what was asked; the parser flags it.
			var n ClientHello
			if ParseClientHello(got, &n) != nil || !n.SNIEmpty {
				t.Fatal("empty server name not rebuilt")
			}
			return
		}
		if in.ExtensionError == nil && !in.DuplicateExtension {
			checkRewrite(t, b, got, &e)
		} else {
			var n ClientHello
			if err := ParseClientHello(got, &n); err != nil {
				t.Fatalf("rebuilt hello does not parse: %v", err)
			}
		}
		rec := AppendClientHelloRecords(nil, VersionTLS10, got)
		if body, _, n, err := ClientHelloFromRecords(rec); err != nil || n != len(rec) || !bytes.Equal(body, got) {
			t.Fatalf("records: %v", err)
		}
	})
}

func FuzzClientHelloFromRecords(f *testing.F) {
	for _, b := range seedStreams(f) {
		f.Add(b)
	}
	f.Add([]byte{22, 3, 1, 0, 0, 22, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		body, rv, n, err := ClientHelloFromRecords(b)
		if !typedErr(err) {
			t.Fatalf("untyped error %v", err)
		}
		if err != nil {
			return
		}
		if n > len(b) || len(body) > MaxHandshakeLen {
			t.Fatalf("n %d of %d, body %d", n, len(b), len(body))
		}
		// The same message in fresh records reads back the same.
		again, rv2, n2, err := ClientHelloFromRecords(AppendClientHelloRecords(nil, rv, body))
		if err != nil || !bytes.Equal(again, body) || rv2 != rv || n2 < len(body)+9 {
			t.Fatalf("rebuilt records: %v", err)
		}
	})
}
