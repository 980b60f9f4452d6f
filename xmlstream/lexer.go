package xmlstream

// The lexer is hand-written rather than built on encoding/xml because it is
// the per-stanza hot path: encoding/xml costs 3-8 µs and 20-40 allocations per
// stanza (measured in shared/research/deps.md §1.4), has no size or depth
// limits, and does not enforce the RFC 6120 §11 subset. This one frames each
// top-level element with a cheap resumable scan (lex_frame.go), then
// validates and decodes it in one pass over the complete bytes
// (lex_parse.go). The part of a split element that has arrived is also
// validated at doubling sizes, so a malformed stanza is answered without
// waiting for more bytes while the work stays linear in the stanza's size.

import (
	"bytes"
	"errors"
	"io"
)

const (
	readChunk    = 4 << 10 // bytes asked of the reader per Read
	keepBufBytes = 8 << 10 // a buffer larger than this is released when idle
	// A split element up to this size is validated after every short read.
	shortCheckBytes = 4 << 10
)

// lexer is the stream decoder behind Decoder.
type lexer struct {
	rd   io.Reader
	lim  Limits
	buf  []byte
	r, w int   // unconsumed bytes are buf[r:w]
	base int64 // stream offset of buf[0]
	rerr error // read error to report once the buffered bytes are used up
	err  error // sticky decoding error (or ErrStreamEnd)

	headerDone bool
	hdrScan    int // header: bytes of the pending token already scanned

	inElem  bool // a top-level element has started at buf[r]
	fr      framer
	checkAt int  // pending bytes at which a split element is next validated
	short   bool // the last Read returned less than asked

	streamQName []byte   // raw name of the stream header, to match </stream:stream>
	hdr         []nsBind // prefixed declarations of the stream header
	content     nsBind   // default namespace of the stream header
	p           parser
}

func newLexer(r io.Reader, lim Limits) *lexer {
	return &lexer{rd: r, lim: lim}
}

func (l *lexer) reset(r io.Reader) {
	*l = lexer{rd: r, lim: l.lim}
}

func (l *lexer) fail(at int, cond, msg string) error {
	return &Error{Condition: cond, Msg: msg, Offset: l.base + int64(at)}
}

// fill reads more bytes into the buffer, keeping buf[l.r:l.w]. max bounds the
// number of pending bytes the caller is willing to hold (the stanza limit).
func (l *lexer) fill(max int) error {
	if l.rerr != nil {
		err := l.rerr
		l.rerr = nil // let a caller retry after a timeout; the scan state is kept
		return err
	}
	pending := l.w - l.r
	if l.buf == nil {
		l.buf = make([]byte, readChunk)
	}
	if l.r > 0 && (pending == 0 || len(l.buf)-l.w < readChunk) {
		copy(l.buf, l.buf[l.r:l.w])
		l.base += int64(l.r)
		l.r, l.w = 0, pending
	}
	if len(l.buf)-l.w < readChunk/2 && len(l.buf) < max+readChunk {
		n := 2 * len(l.buf)
		if n > max+readChunk {
			n = max + readChunk
		}
		nb := make([]byte, n)
		copy(nb, l.buf[:l.w])
		l.buf = nb
	}
	want := len(l.buf) - l.w
	if want > readChunk {
		want = readChunk
	}
	if room := max + 1 - pending; want > room && room > 0 {
		want = room // never hold more than one byte past the limit
	}
	for tries := 0; tries < 100; tries++ {
		n, err := l.rd.Read(l.buf[l.w : l.w+want])
		l.w += n
		l.short = n < want
		if n > 0 {
			l.rerr = err
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// shrink releases a large buffer once the bytes it holds are few.
func (l *lexer) shrink() {
	if len(l.buf) > keepBufBytes && l.w-l.r <= readChunk {
		nb := make([]byte, readChunk)
		n := copy(nb, l.buf[l.r:l.w])
		l.base += int64(l.r)
		l.buf, l.r, l.w = nb, 0, n
		l.p = parser{} // its scratch slices may point into the old buffer
	}
	if cap(l.p.vals) > keepBufBytes {
		l.p.vals = nil
	}
}

// need ensures at least n unconsumed bytes, or returns the read error with
// io.EOF turned into io.ErrUnexpectedEOF (the stream ended mid-token).
func (l *lexer) need(n int) error {
	for l.w-l.r < n {
		if err := l.fill(l.lim.MaxStanzaBytes); err != nil {
			return unexpectedEOF(err)
		}
	}
	return nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (l *lexer) readHeader() (StreamHeader, error) {
	if l.err != nil {
		return StreamHeader{}, l.err
	}
	if l.headerDone {
		return StreamHeader{}, l.fail(l.r, CondBadFormat, "stream header already read")
	}
	h, err := l.readHeader1()
	var xe *Error
	if errors.As(err, &xe) {
		l.err = err
	}
	return h, err
}

func (l *lexer) readHeader1() (StreamHeader, error) {
	// The byte order mark and XML declaration may only open the stream;
	// hdrScan < 0 once they have been dealt with.
	if l.hdrScan >= 0 {
		for l.base+int64(l.r) == 0 {
			m := min(l.w-l.r, len(bom))
			if !bytes.Equal(l.buf[l.r:l.r+m], bom[:m]) {
				break
			}
			if m == len(bom) {
				l.r += len(bom)
				break
			}
			if err := l.fill(l.lim.MaxStanzaBytes); err != nil {
				return StreamHeader{}, unexpectedEOF(err)
			}
		}
		for {
			have := l.buf[l.r:l.w]
			if len(have) >= 6 || !bytes.HasPrefix([]byte("<?xml"), have[:min(len(have), 5)]) {
				if !isDeclStart(have) {
					break
				}
				// Find "?>"; the declaration's values cannot contain it.
				if end := bytes.Index(have[l.hdrScan:], []byte("?>")); end >= 0 {
					l.p = parser{s: have[:l.hdrScan+end+2], off: l.base + int64(l.r), lim: l.lim}
					if err := l.p.xmlDecl(); err != nil {
						if err == errIncomplete {
							err = l.p.fail(CondNotWellFormed, "malformed XML declaration")
						}
						return StreamHeader{}, err
					}
					if l.p.pos != len(l.p.s) {
						return StreamHeader{}, l.p.fail(CondNotWellFormed, "malformed XML declaration")
					}
					l.r += l.p.pos
					break
				}
				l.hdrScan = max(0, len(have)-1)
				if l.hdrScan > 1024 {
					return StreamHeader{}, l.fail(l.r, CondPolicyViolation, "XML declaration too long")
				}
			}
			if err := l.fill(l.lim.MaxStanzaBytes); err != nil {
				return StreamHeader{}, unexpectedEOF(err)
			}
		}
		l.hdrScan = -1
	}
	if err := l.skipSpace(); err != nil {
		return StreamHeader{}, unexpectedEOF(err)
	}
	if err := l.need(2); err != nil {
		return StreamHeader{}, err
	}
	switch l.buf[l.r+1] {
	case '?', '!':
		return StreamHeader{}, l.fail(l.r, CondRestrictedXML, "processing instructions, comments and declarations are not allowed")
	}
	if l.buf[l.r] != '<' || l.buf[l.r+1] == '/' {
		return StreamHeader{}, l.fail(l.r, CondNotWellFormed, "expected the stream header")
	}
	// Frame the start tag: up to the first '>' outside quotes.
	if !l.inElem {
		l.inElem = true
		l.fr = framer{st: fStart, i: 1, depth: 1}
	}
	res := frameMore
	for res == frameMore {
		if res = l.fr.scanTag(l.buf[l.r:l.w]); res != frameMore {
			break
		}
		if l.w-l.r > l.lim.MaxStanzaBytes {
			return StreamHeader{}, l.fail(l.r, CondPolicyViolation, "stream header too large")
		}
		if err := l.fill(l.lim.MaxStanzaBytes); err != nil {
			return StreamHeader{}, unexpectedEOF(err)
		}
	}
	l.inElem = false
	end := l.r + l.fr.i
	if res == frameStop {
		end = l.w
	}
	l.p = parser{s: l.buf[l.r:end], off: l.base + int64(l.r), lim: l.lim}
	p := &l.p
	_, qname, empty, _, err := p.startTag(1)
	if err == errIncomplete || err == nil && (p.pos != len(p.s) || res == frameStop) {
		err = p.fail(CondNotWellFormed, "malformed stream header")
	}
	if err != nil {
		return StreamHeader{}, err
	}
	h := StreamHeader{Name: p.topName, Attrs: p.topAttrs, Prefixes: map[string]string{}}
	l.streamQName = append([]byte(nil), qname...)
	if i := bytes.IndexByte(qname, ':'); i >= 0 {
		h.RawPrefix = string(qname[:i])
	}
	for i := range p.ns {
		b := p.ns[i]
		uri := string(b.uri)
		if len(b.prefix) == 0 {
			h.Content = uri
			continue
		}
		h.Prefixes[string(b.prefix)] = uri
		l.hdr = append(l.hdr, nsBind{prefix: bytes.Clone(b.prefix), uri: []byte(uri), str: uri, hasStr: true})
	}
	l.content = nsBind{uri: []byte(h.Content), str: h.Content, hasStr: true}
	l.r = end
	l.headerDone = true
	l.p = parser{}
	if empty {
		return h, l.fail(end-2, CondBadFormat, "stream header is an empty-element tag")
	}
	if h.Name != (Name{NSStream, "stream"}) {
		return h, l.fail(end, CondInvalidNamespace, "stream header is not {"+NSStream+"}stream")
	}
	return h, nil
}

// skipSpace consumes white space, reading as needed, until a non-space byte
// is buffered. Consumed bytes are dropped so keepalives never accumulate.
func (l *lexer) skipSpace() error {
	for {
		for l.r < l.w && isSpaceByte(l.buf[l.r]) {
			l.r++
		}
		if l.r < l.w {
			return nil
		}
		l.base += int64(l.r)
		l.r, l.w = 0, 0
		l.shrink()
		if err := l.fill(l.lim.MaxStanzaBytes); err != nil {
			return err
		}
	}
}

func (l *lexer) next() (*Stanza, error) {
	if l.err != nil {
		return nil, l.err
	}
	if !l.headerDone {
		return nil, l.fail(l.r, CondBadFormat, "Next called before ReadHeader")
	}
	st, err := l.next1()
	if err != nil && (err == ErrStreamEnd || Condition(err) != "") {
		l.err = err
	}
	return st, err
}

func (l *lexer) next1() (*Stanza, error) {
	if !l.inElem {
		if err := l.skipSpace(); err != nil {
			return nil, err // io.EOF here is a clean end of the connection
		}
		if l.buf[l.r] != '<' {
			return nil, l.fail(l.r, CondNotWellFormed, "text at stream level")
		}
		if err := l.need(2); err != nil {
			return nil, err
		}
		switch l.buf[l.r+1] {
		case '/':
			return nil, l.streamEnd()
		case '?':
			return nil, l.fail(l.r, CondRestrictedXML, "processing instructions are not allowed")
		case '!':
			if err := l.need(3); err != nil {
				return nil, err
			}
			if l.buf[l.r+2] == '[' {
				return nil, l.fail(l.r, CondNotWellFormed, "CDATA at stream level")
			}
			return nil, l.fail(l.r, CondRestrictedXML, "comments and declarations are not allowed")
		}
		l.inElem = true
		l.fr = framer{}
		l.checkAt = 0
	}
	var res int
	for {
		var err error
		if res, err = l.fr.scan(l.buf[l.r:l.w], &l.lim); err != nil {
			var xe *Error
			if errors.As(err, &xe) {
				xe.Offset += l.base + int64(l.r)
			}
			return nil, err
		}
		if res == frameDone && l.fr.i > l.lim.MaxStanzaBytes {
			return nil, l.fail(l.r, CondPolicyViolation, "stanza too large")
		}
		if res != frameMore {
			break
		}
		pending := l.w - l.r
		if pending > l.lim.MaxStanzaBytes {
			return nil, l.fail(l.r, CondPolicyViolation, "stanza too large")
		}
		// The framer does not see every error (say, mismatched end tags), so
		// what has arrived of a split element is validated from time to
		// time; doubling the interval keeps the cost linear.
		// A short read suggests the peer has paused, maybe waiting for an
		// answer, so a small element is checked then too.
		if pending >= l.checkAt || l.short && pending <= shortCheckBytes {
			if err := l.parse(l.r + pending); err != errIncomplete {
				if err == nil {
					err = l.fail(l.r, CondNotWellFormed, "malformed element")
				}
				return nil, err
			}
			l.checkAt = max(l.checkAt, 2*pending)
		}
		if err := l.fill(l.lim.MaxStanzaBytes); err != nil {
			return nil, unexpectedEOF(err)
		}
	}
	end := l.r + l.fr.i
	if res == frameStop {
		end = l.w // malformed: let the parser find the error in what we have
	}
	err := l.parse(end)
	if err == errIncomplete || err == nil && (l.p.pos != end-l.r || res == frameStop) {
		err = l.p.fail(CondNotWellFormed, "malformed element")
	}
	if err != nil {
		return nil, err
	}
	p := &l.p
	st := &Stanza{Name: p.topName, Attrs: p.topAttrs, Inherited: l.content.str}
	st.Raw = l.rawWithPrefixes(p.s)
	p.s = nil
	l.r = end
	l.inElem = false
	l.shrink()
	return st, nil
}

// parse validates buf[l.r:end] as one element, leaving the results in l.p.
func (l *lexer) parse(end int) error {
	p := &l.p
	p.s, p.pos, p.off, p.lim, p.build = l.buf[l.r:end], 0, l.base+int64(l.r), l.lim, false
	p.inh, p.hdr = l.content, l.hdr
	if cap(p.hdrUsed) < len(l.hdr) {
		p.hdrUsed = make([]bool, len(l.hdr))
	}
	p.hdrUsed = p.hdrUsed[:len(l.hdr)]
	clear(p.hdrUsed)
	_, err := p.element()
	return err
}

// rawWithPrefixes copies the element's bytes, inserting the declarations of
// stream header prefixes it relies on so the copy stands alone.
func (l *lexer) rawWithPrefixes(src []byte) []byte {
	p := &l.p
	extra := 0
	for i, used := range p.hdrUsed {
		if used {
			extra += len(" xmlns:='") + len(l.hdr[i].prefix) + len(l.hdr[i].uri) + 16 + 1
		}
	}
	if extra == 0 {
		return bytes.Clone(src)
	}
	out := make([]byte, 0, len(src)+extra)
	out = append(out, src[:p.topNameEnd]...)
	for i, used := range p.hdrUsed {
		if used {
			out = append(out, " xmlns:"...)
			out = append(out, l.hdr[i].prefix...)
			out = append(out, "='"...)
			out = appendAttrEscaped(out, l.hdr[i].str)
			out = append(out, '\'')
		}
	}
	return append(out, src[p.topNameEnd:]...)
}

// streamEnd reads "</stream:stream>" at buf[r].
func (l *lexer) streamEnd() error {
	limit := len("</") + l.lim.MaxNameBytes + 64
	scanned := 0
	for {
		if i := bytes.IndexByte(l.buf[l.r+scanned:l.w], '>'); i >= 0 {
			tag := l.buf[l.r : l.r+scanned+i+1]
			name := bytes.TrimRight(tag[2:len(tag)-1], " \t\r\n")
			if !bytes.Equal(name, l.streamQName) {
				return l.fail(l.r, CondNotWellFormed, "end tag does not match the stream header")
			}
			l.r += len(tag)
			return ErrStreamEnd
		}
		scanned = l.w - l.r
		if scanned > limit {
			return l.fail(l.r, CondNotWellFormed, "malformed end tag")
		}
		if err := l.fill(l.lim.MaxStanzaBytes); err != nil {
			return unexpectedEOF(err)
		}
	}
}
