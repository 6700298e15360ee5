package defaults_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/cachier-go/cachier/codec"
	"github.com/cachier-go/cachier/defaults"
)

type namedCodec struct{ codec.Codec }

func (namedCodec) Name() string { return "test-named" }

func TestRegisterCodec(t *testing.T) {
	for name, want := range map[string]string{"": "cachier", "cachier": "cachier", "gob": "gob", "json": "json"} {
		c, ok := defaults.LookupCodec(name)
		if !ok || c.Name() != want {
			t.Errorf("LookupCodec(%q) = %v, %v; want %s", name, c, ok, want)
		}
	}
	if _, ok := defaults.LookupCodec("test-unregistered"); ok {
		t.Error("an unregistered name was found")
	}
	c := namedCodec{codec.Default()}
	named := perRun("test-named")
	defaults.RegisterCodec(named, c)
	if got, ok := defaults.LookupCodec(named); !ok || !reflect.DeepEqual(got, codec.Codec(c)) {
		t.Errorf("LookupCodec after RegisterCodec = %v, %v", got, ok)
	}
	for name, reg := range map[string]func(){
		"nil codec":      func() { defaults.RegisterCodec("test-nil", nil) },
		"empty name":     func() { defaults.RegisterCodec("", c) },
		"built-in name":  func() { defaults.RegisterCodec("gob", c) },
		"default's name": func() { defaults.RegisterCodec("cachier", c) },
		"twice":          func() { defaults.RegisterCodec(named, c) },
		// A codec embedding a built-in one that does not name itself:
		// its entries would carry the built-in's name. Before, accepted.
		"the default's Name": func() { defaults.RegisterCodec(perRun("test-unnamed"), struct{ codec.Codec }{codec.Default()}) },
		"gob's Name":         func() { defaults.RegisterCodec(perRun("test-unnamed-gob"), struct{ codec.Codec }{codec.Gob()}) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), "RegisterCodec") {
					t.Errorf("%s: panic %v, want one naming RegisterCodec", name, r)
				}
			}()
			reg()
		}()
	}
}
