package hashing

import (
	"reflect"
	"testing"
	"time"
)

// TestTimeLayout guards timeOf's reading of unexported, unaddressable
// time.Time fields, which decodes time.Time's layout: it must agree with
// the public API for times with and without a monotonic reading, before
// 1885 and far ahead, in several locations.
func TestTimeLayout(t *testing.T) {
	type wrap struct{ t time.Time }
	for _, tm := range []time.Time{
		time.Now(), time.Now().Round(0), time.Unix(0, 0), time.Date(1700, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(2300, 6, 1, 12, 0, 0, 999999999, time.FixedZone("Z", -7200)), {},
		time.Now().In(time.FixedZone("Y", 19800)),
	} {
		f := reflect.ValueOf(wrap{tm}).Field(0) // unexported and unaddressable
		if f.CanInterface() || f.CanAddr() {
			t.Fatal("test does not reach the layout path")
		}
		got := timeOf(f)
		if !got.Equal(tm) {
			t.Errorf("timeOf(%v) = %v", tm, got)
		}
		gn, go_ := got.Zone()
		wn, wo := tm.Zone()
		if gn != wn || go_ != wo {
			t.Errorf("timeOf(%v) zone %s%+d, want %s%+d", tm, gn, go_, wn, wo)
		}
	}
}
