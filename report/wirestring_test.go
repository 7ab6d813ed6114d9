package report

import (
	"encoding/json"
	"testing"
)

func TestWireStringJSON(t *testing.T) {
	for _, s := range []string{"abc.example.com", "a\\b\"c", "\xff\x00\x1b[31m", "é\u202e"} {
		b, err := json.Marshal(struct {
			S WireString `json:"s"`
		}{WireString(s)})
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		want := `{"s":` + string(appendJSONString(nil, s, true)) + `}`
		if string(b) != want || !json.Valid(b) {
			t.Errorf("%q: %s, want %s", s, b, want)
		}
	}
}
