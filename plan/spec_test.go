package plan

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseNamespace(t *testing.T) {
	for in, want := range map[string]string{"uts": "uts", "MOUNT": "mnt", "mnt": "mnt", "Time": "time"} {
		if got, err := ParseNamespace(in); err != nil || got != want {
			t.Errorf("ParseNamespace(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseNamespace("network"); err == nil || !strings.Contains(err.Error(), "use one of cgroup ipc mnt net pid time user uts") {
		t.Errorf("ParseNamespace(network) = %v", err)
	}
}

func TestValidate(t *testing.T) {
	ok := []Spec{
		{},
		{Namespaces: []string{"uts"}, Hostname: "foobar"},
		{Namespaces: []string{"user"}, Map: &IDMap{Mode: "id", UID: 1000, GID: 1000}},
		{Namespaces: []string{"time"}, Time: TimeOffsets{Boottime: -86400}},
	}
	for _, s := range ok {
		if err := s.Validate(); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
	bad := map[string]Spec{
		"needs a new uts":   {Hostname: "x"},
		"needs a new user":  {Map: &IDMap{Mode: "root"}},
		"need a new time":   {Time: TimeOffsets{Monotonic: 1}},
		"listed twice":      {Namespaces: []string{"uts", "uts"}},
		"unknown namespace": {Namespaces: []string{"net2"}},
		"at most 64":        {Namespaces: []string{"uts"}, Hostname: strings.Repeat("a", 65)},
		"too large":         {Namespaces: []string{"time"}, Time: TimeOffsets{Boottime: 1 << 40}},
		"unknown id map":    {Namespaces: []string{"user"}, Map: &IDMap{Mode: "weird"}},
	}
	for want, s := range bad {
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: got %v, want an error with %q", s, err, want)
		}
	}
}

func TestCloneIsDeep(t *testing.T) {
	s := &Spec{Namespaces: []string{"user"}, Map: &IDMap{Mode: "root"}}
	c := s.Clone()
	c.Namespaces[0] = "uts"
	c.Map.Mode = "none"
	if s.Namespaces[0] != "user" || s.Map.Mode != "root" {
		t.Errorf("Clone shares memory with the original: %+v", s)
	}
}

// TestCloneEveryField fills every exported field reachable from a Spec,
// so a field added later is covered too: the clone must be equal, share
// no memory with the original, and say the same as JSON.
func TestCloneEveryField(t *testing.T) {
	var s Spec
	n := 0
	fill(reflect.ValueOf(&s).Elem(), &n, 0)
	c := s.Clone()
	if !reflect.DeepEqual(&s, c) {
		t.Fatalf("clone differs:\n%+v\n%+v", s, *c)
	}
	a, _ := json.Marshal(&s)
	b, _ := json.Marshal(c)
	if string(a) != string(b) {
		t.Errorf("clone's JSON differs:\n%s\n%s", a, b)
	}
	noSharing(t, "Spec", reflect.ValueOf(&s).Elem(), reflect.ValueOf(c).Elem())
}

// fill gives every exported field a distinct non-zero value.
func fill(v reflect.Value, n *int, depth int) {
	*n++
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n, depth+1)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n, depth+1)
			}
		}
	case reflect.Slice:
		if depth > 12 {
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := 0; i < 2; i++ {
			fill(v.Index(i), n, depth+1)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for i := 0; i < 2; i++ {
			k := reflect.New(v.Type().Key()).Elem()
			fill(k, n, depth+1)
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, n, depth+1)
			v.SetMapIndex(k, e)
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			fill(v.Index(i), n, depth+1)
		}
	case reflect.String:
		v.SetString("s" + strconv.Itoa(*n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n % 100))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(uint64(*n % 100))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(*n))
	default:
		panic("fill: " + v.Type().String())
	}
}

// noSharing fails where the clone's pointers, slices or maps are the
// original's.
func noSharing(t *testing.T, path string, a, b reflect.Value) {
	t.Helper()
	switch a.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice:
		if !a.IsNil() && a.Pointer() == b.Pointer() {
			t.Errorf("%s: the clone shares it with the original", path)
		}
	}
	switch a.Kind() {
	case reflect.Pointer:
		if !a.IsNil() {
			noSharing(t, path, a.Elem(), b.Elem())
		}
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if a.Type().Field(i).IsExported() {
				noSharing(t, path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < a.Len(); i++ {
			noSharing(t, path+"["+strconv.Itoa(i)+"]", a.Index(i), b.Index(i))
		}
	case reflect.Map:
		for it := a.MapRange(); it.Next(); {
			noSharing(t, path+"[key]", it.Value(), b.MapIndex(it.Key()))
		}
	}
}
