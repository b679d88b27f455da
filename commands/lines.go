package commands

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/shlex"
)

// Stmt is one command of a script with the line it starts on.
type Stmt struct {
	Line  int
	Words []string
	// Text is the command as it was typed (quotes and continuations
	// kept), for a lesson to show.
	Text string
	// Prose is a `#:` comment's text, for a lesson's paragraphs; such a
	// statement has no Words. Only ParseLesson returns them.
	Prose string
}

// ErrIncomplete means the source ends inside a `\` continuation; the REPL
// reads another line.
var ErrIncomplete = errors.New("line continues")

// ParseError is a syntax error with the line it was found on.
type ParseError struct {
	Line int
	Err  error
}

func (e *ParseError) Error() string { return e.Err.Error() }
func (e *ParseError) Unwrap() error { return e.Err }

// Parse splits a script into statements. google/shlex treats newlines as
// spaces and knows nothing of positions or `;`, so the script is cut into
// segments here first, tracking quotes so that a quoted `#`, `;` or `\`
// stays literal, and only then is each segment split into words by shlex.
func Parse(src string) ([]Stmt, error) { return parse(src, false) }

// ParseLesson is Parse that also returns each `#:` comment line as a
// statement with Prose set: a lesson shows them as paragraphs.
func ParseLesson(src string) ([]Stmt, error) { return parse(src, true) }

func parse(src string, prose bool) ([]Stmt, error) {
	var (
		stmts []Stmt
		seg   strings.Builder
		line  = 1
		start = 1
		quote rune // 0, '\'' or '"'
		empty = true
		from  int  // where the statement starts in rs
		cut   = -1 // where a comment after it starts
	)
	rs := []rune(src)
	flush := func(to int) error {
		if cut >= 0 && cut < to {
			to = cut
		}
		cut = -1
		text := seg.String()
		seg.Reset()
		defer func() { empty = true }()
		if strings.TrimSpace(text) == "" {
			return nil
		}
		words, err := shlex.Split(text)
		if err != nil {
			return &ParseError{Line: start, Err: fmt.Errorf("cannot split %q into words: %w", text, err)}
		}
		if len(words) > 0 {
			typed := strings.TrimRight(string(rs[from:min(to, len(rs))]), " \t")
			stmts = append(stmts, Stmt{Line: start, Words: words, Text: typed})
		}
		return nil
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if empty && r != ' ' && r != '\t' && r != '\n' && r != ';' {
			start, empty, from = line, false, i
		}
		switch {
		case quote == '\'':
			if r == '\n' {
				return nil, &ParseError{Line: start, Err: errors.New("unterminated ' quote: close it on the same line")}
			}
			if r == '\'' {
				quote = 0
			}
			seg.WriteRune(r)
		case r == '\\':
			if i+1 == len(rs) || (rs[i+1] == '\n' && i+2 == len(rs)) {
				return stmts, ErrIncomplete
			}
			if rs[i+1] == '\n' { // continuation: the two characters vanish
				i++
				line++
				continue
			}
			// POSIX: inside double quotes a backslash escapes only $ ` " \
			// and newline, and stays before anything else ("a\b" is
			// a\b); shlex would drop it, so it is doubled for shlex.
			if quote == '"' && !strings.ContainsRune("$`\"\\", rs[i+1]) {
				seg.WriteRune(r)
			}
			seg.WriteRune(r)
			seg.WriteRune(rs[i+1])
			i++
		case quote == '"':
			if r == '\n' {
				return nil, &ParseError{Line: start, Err: errors.New("unterminated \" quote: close it on the same line")}
			}
			if r == '"' {
				quote = 0
			}
			seg.WriteRune(r)
		case r == '\'' || r == '"':
			quote = r
			seg.WriteRune(r)
		case r == '#' && (seg.Len() == 0 || isSpace(lastRune(seg.String()))):
			at := i
			if !empty {
				cut = at
			}
			for i+1 < len(rs) && rs[i+1] != '\n' {
				i++
			}
			if prose && strings.TrimSpace(seg.String()) == "" && at+1 < len(rs) && rs[at+1] == ':' {
				text := string(rs[at+2 : i+1])
				stmts = append(stmts, Stmt{Line: line, Prose: strings.TrimPrefix(text, " ")})
				if strings.TrimSpace(text) == "" {
					stmts[len(stmts)-1].Prose = "\n" // an empty #: line ends a paragraph
				}
			}
		case r == ';' || r == '\n':
			if err := flush(i); err != nil {
				return nil, err
			}
			if r == '\n' {
				line++
			}
		default:
			seg.WriteRune(r)
		}
	}
	if quote != 0 {
		return nil, &ParseError{Line: start, Err: fmt.Errorf("unterminated %c quote: close it on the same line", quote)}
	}
	if err := flush(len(rs)); err != nil {
		return nil, err
	}
	return stmts, nil
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' }

func lastRune(s string) rune {
	r := []rune(s)
	return r[len(r)-1]
}

// Quote renders a word so that Parse reads it back unchanged: as it is
// when it holds only characters that are never special, else in single
// quotes.
func Quote(w string) string {
	plain := w != ""
	for _, r := range w {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,^", r)) {
			plain = false
			break
		}
	}
	if plain {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'"'"'`) + "'"
}
