package quic

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/hellowatch/hellowatch/tlsparse"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRFCKeys(t *testing.T) {
	for _, v := range rfcVectors {
		t.Run(v.name, func(t *testing.T) {
			var k InitialKeys
			if err := k.Derive(v.version, unhex(t, rfcDCID)); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name string
				got  []byte
				want string
			}{
				{"client secret", k.Client.Secret[:], v.clientSecret},
				{"client key", k.Client.Key[:], v.clientKey},
				{"client iv", k.Client.IV[:], v.clientIV},
				{"client hp", k.Client.HP[:], v.clientHP},
				{"server secret", k.Server.Secret[:], v.serverSecret},
				{"server key", k.Server.Key[:], v.serverKey},
				{"server iv", k.Server.IV[:], v.serverIV},
				{"server hp", k.Server.HP[:], v.serverHP},
			} {
				if hex.EncodeToString(c.got) != c.want {
					t.Errorf("%s = %x, want %s", c.name, c.got, c.want)
				}
			}
		})
	}
}

// TestRFCClientInitial opens the RFC's protected client Initial and checks
// the plaintext byte for byte, then seals the plaintext and checks the
// protected packet byte for byte.
func TestRFCClientInitial(t *testing.T) {
	for _, v := range rfcVectors {
		t.Run(v.name, func(t *testing.T) {
			pkt := unhex(t, v.clientPacket)
			want := unhex(t, v.clientPayload)
			want = append(want, make([]byte, 1162-len(want))...)
			var k InitialKeys
			if err := k.Derive(v.version, unhex(t, rfcDCID)); err != nil {
				t.Fatal(err)
			}
			var h Header
			if err := ParseHeader(pkt, &h); err != nil {
				t.Fatal(err)
			}
			if h.Type != PacketInitial || h.Version != v.version || hex.EncodeToString(h.DCID) != rfcDCID || len(h.SCID) != 0 || h.PacketLen != len(pkt) {
				t.Fatalf("header %+v", h)
			}
			orig := bytes.Clone(pkt)
			dst := make([]byte, 0, 2048)
			got, pn, err := k.Client.Open(dst, pkt, &h, -1)
			if err != nil {
				t.Fatal(err)
			}
			if pn != 2 || !bytes.Equal(got, want) {
				t.Fatalf("pn %d, payload %x", pn, got)
			}
			if !bytes.Equal(pkt, orig) {
				t.Fatal("Open modified its input")
			}
			if _, _, err := k.Server.Open(nil, pkt, &h, -1); !errors.Is(err, ErrAuth) {
				t.Fatalf("server keys opened the client's packet: %v", err)
			}
			sealed := k.Client.Seal(nil, unhex(t, v.clientHeader), want, 2, 4)
			if !bytes.Equal(sealed, pkt) {
				t.Fatalf("sealed\n%x\nwant\n%x", sealed, pkt)
			}
			// The CRYPTO frame holds the RFC's ClientHello for example.com.
			var f Frame
			rest, err := NextFrame(got, &f)
			if err != nil || f.Type != FrameCrypto || f.Offset != 0 || len(f.Data) != 241 {
				t.Fatalf("frame %v %+v", err, f)
			}
			var pad Frame
			if _, err := NextFrame(rest, &pad); err != nil || pad.Type != FramePadding || pad.PaddingLen != 1162-245 {
				t.Fatalf("padding %v %d", err, pad.PaddingLen)
			}
			typ, body, _, err := tlsparse.ParseHandshake(f.Data)
			if err != nil || typ != tlsparse.HandshakeClientHello {
				t.Fatal(typ, err)
			}
			var ch tlsparse.ClientHello
			if err := tlsparse.ParseClientHello(body, &ch); err != nil {
				t.Fatal(err)
			}
			if string(ch.ServerName()) != "example.com" || !ch.HasExtension(tlsparse.ExtensionType(57)) {
				t.Fatalf("sni %q", ch.ServerName())
			}
		})
	}
}

func TestRFCServerInitial(t *testing.T) {
	for _, v := range rfcVectors {
		t.Run(v.name, func(t *testing.T) {
			pkt := unhex(t, v.serverPacket)
			want := unhex(t, v.serverPayload)
			var k InitialKeys
			if err := k.Derive(v.version, unhex(t, rfcDCID)); err != nil {
				t.Fatal(err)
			}
			var h Header
			if err := ParseHeader(pkt, &h); err != nil {
				t.Fatal(err)
			}
			if h.Type != PacketInitial || len(h.DCID) != 0 || hex.EncodeToString(h.SCID) != "f067a5502a4262b5" {
				t.Fatalf("header %+v", h)
			}
			got, pn, err := k.Server.Open(nil, pkt, &h, -1)
			if err != nil {
				t.Fatal(err)
			}
			if pn != 1 || !bytes.Equal(got, want) {
				t.Fatalf("pn %d payload %x", pn, got)
			}
			if sealed := k.Server.Seal(nil, unhex(t, v.serverHeader), want, 1, 2); !bytes.Equal(sealed, pkt) {
				t.Fatalf("sealed\n%x\nwant\n%x", sealed, pkt)
			}
			var f Frame
			rest, err := NextFrame(got, &f)
			if err != nil || f.Type != FrameACK || f.LargestAcked != 0 {
				t.Fatalf("ack %v %+v", err, f)
			}
			if _, err := NextFrame(rest, &f); err != nil || f.Type != FrameCrypto {
				t.Fatalf("crypto %v %+v", err, f)
			}
			typ, body, _, err := tlsparse.ParseHandshake(f.Data)
			if err != nil || typ != tlsparse.HandshakeServerHello {
				t.Fatal(typ, err)
			}
			var sh tlsparse.ServerHello
			if err := tlsparse.ParseServerHello(body, &sh); err != nil {
				t.Fatal(err)
			}
			if sh.Version() != tlsparse.VersionTLS13 || sh.CipherSuite != 0x1301 {
				t.Fatalf("server hello %v %v", sh.Version(), sh.CipherSuite)
			}
		})
	}
}

func TestRFCRetry(t *testing.T) {
	for _, v := range rfcVectors {
		t.Run(v.name, func(t *testing.T) {
			pkt := unhex(t, v.retry)
			var h Header
			if err := ParseHeader(pkt, &h); err != nil {
				t.Fatal(err)
			}
			if h.Type != PacketRetry || string(h.Token) != "token" || hex.EncodeToString(h.SCID) != "f067a5502a4262b5" {
				t.Fatalf("header %+v", h)
			}
			if !VerifyRetry(pkt, &h, unhex(t, rfcDCID)) {
				t.Fatal("tag did not verify")
			}
			if VerifyRetry(pkt, &h, unhex(t, "8394c8f03e515709")) {
				t.Fatal("tag verified for another DCID")
			}
			pkt[len(pkt)-1] ^= 1
			if VerifyRetry(pkt, &h, unhex(t, rfcDCID)) {
				t.Fatal("corrupted tag verified")
			}
		})
	}
}
