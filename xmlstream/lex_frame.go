package xmlstream

import "bytes"

// framer finds where a top-level element ends while its bytes arrive. It
// only tracks markup boundaries (tags, quotes, CDATA) and nesting depth, and
// keeps its position between calls, so every byte is scanned once however the
// element is split across reads. The parser then validates the complete
// element. When the framer meets something that can never become
// well-formed (a comment, a PI, '<' in an attribute value) it stops early and
// leaves the diagnosis to the parser, so bad input is answered at once instead
// of waiting for the stanza limit.
type framer struct {
	st    uint8
	i     int // next byte to look at, relative to the element's first byte
	depth int
}

// Framer states.
const (
	fLT     uint8 = iota // at '<'
	fText                // character data
	fStart               // inside a start tag, outside quotes
	fSingle              // inside a '...' attribute value
	fDouble              // inside a "..." attribute value
	fEnd                 // inside an end tag
	fCDATA               // inside a CDATA section
)

// Results of framer.scan.
const (
	frameMore = iota // need more bytes
	frameDone        // the element ends at f.i
	frameStop        // malformed; parse what there is to report why
)

var tagStop = func() (t [256]bool) {
	for _, c := range []byte("<>'\"/") {
		t[c] = true
	}
	return t
}()

// scan continues framing over b, all bytes of the element received so far.
func (f *framer) scan(b []byte, lim *Limits) (int, error) {
	for f.i < len(b) {
		switch f.st {
		case fText:
			j := bytes.IndexByte(b[f.i:], '<')
			if j < 0 {
				f.i = len(b)
				return frameMore, nil
			}
			f.i += j
			f.st = fLT
		case fLT:
			if f.i+1 >= len(b) {
				return frameMore, nil
			}
			switch b[f.i+1] {
			case '/':
				f.st = fEnd
				f.i += 2
			case '!':
				rest := b[f.i:]
				m := min(len(rest), len(cdataOpen))
				if !bytes.Equal(rest[:m], cdataOpen[:m]) || f.depth == 0 {
					return frameStop, nil
				}
				if m < len(cdataOpen) {
					return frameMore, nil
				}
				f.st = fCDATA
				f.i += len(cdataOpen)
			case '?':
				return frameStop, nil
			default:
				if c := b[f.i+1]; c < 0x80 && byteClass[c]&clNameStart == 0 {
					return frameStop, nil // not a name: let the parser say so now
				}
				f.depth++
				if f.depth > lim.MaxDepth {
					return 0, &Error{Condition: CondPolicyViolation, Msg: "elements nested too deeply", Offset: int64(f.i)}
				}
				f.st = fStart
				f.i++
			}
		case fStart, fSingle, fDouble:
			if res := f.scanTag(b); res != frameDone || f.depth == 0 {
				return res, nil
			}
		case fEnd:
			j := bytes.IndexByte(b[f.i:], '>')
			if j < 0 {
				if bytes.IndexByte(b[f.i:], '<') >= 0 {
					return frameStop, nil
				}
				f.i = len(b)
				return frameMore, nil
			}
			if bytes.IndexByte(b[f.i:f.i+j], '<') >= 0 {
				return frameStop, nil
			}
			f.i += j + 1
			f.depth--
			f.st = fText
			if f.depth == 0 {
				return frameDone, nil
			}
		case fCDATA:
			j := bytes.Index(b[f.i:], []byte("]]>"))
			if j < 0 {
				f.i = max(f.i, len(b)-2)
				return frameMore, nil
			}
			f.i += j + 3
			f.st = fText
		}
	}
	return frameMore, nil
}

// scanTag continues through a start tag. It returns frameDone when the
// closing '>' has been passed (f.i is then just after it, and an
// empty-element tag has already decreased f.depth), frameStop at a '<' inside
// the tag, and frameMore when b ends first.
func (f *framer) scanTag(b []byte) int {
	i := f.i
	for i < len(b) {
		if f.st == fStart {
			for i < len(b) && !tagStop[b[i]] {
				i++
			}
			if i == len(b) {
				break
			}
			switch b[i] {
			case '/':
				if i+1 == len(b) {
					f.i = i
					return frameMore
				}
				if b[i+1] != '>' {
					f.i = i
					return frameStop
				}
				f.depth--
				f.i = i + 2
				f.st = fText
				return frameDone
			case '>':
				f.i = i + 1
				f.st = fText
				return frameDone
			case '\'':
				f.st = fSingle
			case '"':
				f.st = fDouble
			case '<':
				f.i = i
				return frameStop
			}
			i++
			continue
		}
		q := byte('\'')
		if f.st == fDouble {
			q = '"'
		}
		j := bytes.IndexByte(b[i:], q)
		if j < 0 {
			j = len(b) - i
		}
		if k := bytes.IndexByte(b[i:i+j], '<'); k >= 0 {
			f.i = i + k
			return frameStop
		}
		if i += j; i == len(b) {
			break
		}
		f.st = fStart
		i++
	}
	f.i = i
	return frameMore
}
