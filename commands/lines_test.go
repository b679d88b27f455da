package commands

import (
	"errors"
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		src  string
		want []Stmt
	}{
		{"", nil},
		{"# only a comment\n\n", nil},
		{"unshare uts pid", []Stmt{{1, []string{"unshare", "uts", "pid"}, "unshare uts pid", ""}}},
		{"a; b c ;d", []Stmt{{1, []string{"a"}, "a", ""}, {1, []string{"b", "c"}, "b c", ""}, {1, []string{"d"}, "d", ""}}},
		{"a\n\nb # comment; not a command\n", []Stmt{{1, []string{"a"}, "a", ""}, {3, []string{"b"}, "b", ""}}},
		{"hostname 'a;b' \"c#d\" e#f", []Stmt{{1, []string{"hostname", "a;b", "c#d", "e#f"}, "hostname 'a;b' \"c#d\" e#f", ""}}},
		{"spawn sh -c \\\n  'echo hi'\nshow", []Stmt{{1, []string{"spawn", "sh", "-c", "echo hi"}, "spawn sh -c \\\n  'echo hi'", ""}, {3, []string{"show"}, "show", ""}}},
		{`echo a\;b \# "q\"x"`, []Stmt{{1, []string{"echo", "a;b", "#", `q"x`}, `echo a\;b \# "q\"x"`, ""}}},
		{"\n\n  x  \n", []Stmt{{3, []string{"x"}, "x", ""}}},
		{"#: not prose for Parse\nx", []Stmt{{2, []string{"x"}, "x", ""}}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.src, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) = %v, want %v", tt.src, got, tt.want)
		}
	}
}

func TestParseLesson(t *testing.T) {
	got, err := ParseLesson("#!/usr/bin/env nsh\n# a comment\n#: Some prose,\n  #:  more.\n#:\nhostname x # why\n#:no space")
	if err != nil {
		t.Fatal(err)
	}
	want := []Stmt{
		{Line: 3, Prose: "Some prose,"},
		{Line: 4, Prose: " more."},
		{Line: 5, Prose: "\n"},
		{Line: 6, Words: []string{"hostname", "x"}, Text: "hostname x"},
		{Line: 7, Prose: "no space"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseLesson = %+v, want %+v", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	for src, line := range map[string]int{"a\nb 'x\n": 2, "\"open": 1, "x\n\ny \"a\nb\"": 3} {
		_, err := Parse(src)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Line != line {
			t.Errorf("Parse(%q) = %v, want a ParseError on line %d", src, err, line)
		}
	}
	if _, err := Parse("spawn sh \\"); err != ErrIncomplete {
		t.Errorf("trailing backslash: got %v, want ErrIncomplete", err)
	}
}

func TestQuoteRoundTrip(t *testing.T) {
	for _, w := range []string{"plain", "", "a b", "it's", `back\slash`, "semi;colon", "#hash"} {
		got, err := Parse("x " + Quote(w))
		if err != nil || len(got) != 1 || len(got[0].Words) != 2 || got[0].Words[1] != w {
			t.Errorf("Quote(%q) = %s: parsed back as %v, %v", w, Quote(w), got, err)
		}
	}
}
