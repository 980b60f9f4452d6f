package caps

// The verification string (XEP-0115 §5.1) and the checks of §5.4 on a
// disco#info answer before its hash is trusted.

import (
	"cmp"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"hash"
	"slices"
	"strings"

	"github.com/gavelhq/gavel/xmlstream"
)

// Errors of verification.
var (
	// ErrIllFormed: the answer breaks §5.4 (duplicate identities,
	// features or forms, a FORM_TYPE with different values, an identity
	// without category or type) or the bounds below.
	ErrIllFormed = errors.New("caps: ill-formed disco#info answer")
	// ErrUnsupportedHash: the 'hash' is none this server computes; the
	// answer may be used for the one entity that gave it, never cached.
	ErrUnsupportedHash = errors.New("caps: unsupported hash algorithm")
	// ErrMismatch: the reconstructed hash is not the advertised ver; the
	// answer must not be trusted (§5.4 3.9).
	ErrMismatch = errors.New("caps: verification string does not match")
)

// Bounds on a disco#info answer; a real client has a few identities and
// well under a hundred features.
const (
	MaxIdentities = 256
	MaxFeatures   = 4096
	MaxForms      = 32
	MaxFormFields = 256
	MaxFieldVals  = 1024
)

// hashes are the algorithms the server computes, by their IANA "Hash
// Function Textual Names" (§8.1: SHA-1 is mandatory). MD2 and MD5 are
// left out: their vers are used for the advertising entity only.
var hashes = map[string]func() hash.Hash{
	"sha-1":   sha1.New,
	"sha-224": sha256.New224,
	"sha-256": sha256.New,
	"sha-384": sha512.New384,
	"sha-512": sha512.New,
}

// Supported reports whether the server computes hash algo.
func Supported(algo string) bool { _, ok := hashes[algo]; return ok }

// Identity is a disco#info <identity/>.
type Identity struct{ Category, Type, Lang, Name string }

// Field is one field of an extended information form (XEP-0128).
type Field struct {
	Var    string
	Values []string
}

// Form is an extended information form with its FORM_TYPE; FORM_TYPE is
// not among Fields.
type Form struct {
	FormType string
	Fields   []Field
}

// Info is a disco#info answer as the verification string sees it.
type Info struct {
	Identities []Identity
	Features   []string
	Forms      []Form
}

// ParseInfo reads the <query xmlns='http://jabber.org/protocol/disco#info'/>
// of a result and applies §5.4's well-formedness rules: forms without a
// hidden FORM_TYPE are skipped (3.6), duplicates make the whole answer
// ErrIllFormed (3.3-3.5).
func ParseInfo(q *xmlstream.Element) (Info, error) {
	var info Info
	if q == nil || q.Name.Space != NSDiscoInfo || q.Name.Local != "query" {
		return info, ErrIllFormed
	}
	seenID := map[Identity]bool{}
	seenFeature := map[string]bool{}
	seenForm := map[string]bool{}
	for _, el := range q.Elements() {
		switch {
		case el.Name.Space == NSDiscoInfo && el.Name.Local == "identity":
			id := Identity{Category: el.Attr("category"), Type: el.Attr("type"), Lang: el.Lang(), Name: el.Attr("name")}
			if id.Category == "" || id.Type == "" || seenID[id] || len(info.Identities) >= MaxIdentities {
				return Info{}, ErrIllFormed
			}
			seenID[id] = true
			info.Identities = append(info.Identities, id)
		case el.Name.Space == NSDiscoInfo && el.Name.Local == "feature":
			v := el.Attr("var")
			if v == "" || seenFeature[v] || len(info.Features) >= MaxFeatures {
				return Info{}, ErrIllFormed
			}
			seenFeature[v] = true
			info.Features = append(info.Features, v)
		case el.Name.Space == xmlstream.NSDataForms && el.Name.Local == "x":
			f, ok, err := parseForm(el)
			if err != nil {
				return Info{}, err
			}
			if !ok {
				continue
			}
			if seenForm[f.FormType] || len(info.Forms) >= MaxForms {
				return Info{}, ErrIllFormed
			}
			seenForm[f.FormType] = true
			info.Forms = append(info.Forms, f)
		}
	}
	return info, nil
}

// parseForm reads one extended information form; ok is false for a form
// to ignore (no FORM_TYPE, or one not of type hidden).
func parseForm(x *xmlstream.Element) (f Form, ok bool, err error) {
	fields := x.ChildrenNamed(xmlstream.NSDataForms, "field")
	if len(fields) > MaxFormFields {
		return Form{}, false, ErrIllFormed
	}
	hasType := false
	for _, fe := range fields {
		vals := fe.ChildrenNamed(xmlstream.NSDataForms, "value")
		if len(vals) > MaxFieldVals {
			return Form{}, false, ErrIllFormed
		}
		texts := make([]string, len(vals))
		for i, v := range vals {
			texts[i] = v.Text()
		}
		if fe.Attr("var") != "FORM_TYPE" {
			f.Fields = append(f.Fields, Field{Var: fe.Attr("var"), Values: texts})
			continue
		}
		if hasType || len(texts) == 0 {
			// A second FORM_TYPE field is as ambiguous as two values.
			return Form{}, false, ErrIllFormed
		}
		for _, t := range texts[1:] {
			if t != texts[0] {
				return Form{}, false, ErrIllFormed
			}
		}
		hasType = true
		f.FormType = texts[0]
		ok = fe.Attr("type") == "hidden"
	}
	return f, ok && hasType, nil
}

// VerificationString builds S of §5.1 (steps 1-8): identities, features
// and forms sorted with i;octet collation (Go's byte-wise string order),
// each item followed by '<'.
func VerificationString(info Info) string {
	var b strings.Builder
	ids := slices.Clone(info.Identities)
	slices.SortFunc(ids, func(a, b Identity) int {
		return cmp.Or(strings.Compare(a.Category, b.Category), strings.Compare(a.Type, b.Type),
			strings.Compare(a.Lang, b.Lang), strings.Compare(a.Name, b.Name))
	})
	for _, id := range ids {
		b.WriteString(id.Category + "/" + id.Type + "/" + id.Lang + "/" + id.Name + "<")
	}
	features := slices.Clone(info.Features)
	slices.Sort(features)
	for _, f := range features {
		b.WriteString(f + "<")
	}
	forms := slices.Clone(info.Forms)
	slices.SortFunc(forms, func(a, b Form) int { return strings.Compare(a.FormType, b.FormType) })
	for _, form := range forms {
		b.WriteString(form.FormType + "<")
		fields := slices.Clone(form.Fields)
		slices.SortStableFunc(fields, func(a, b Field) int { return strings.Compare(a.Var, b.Var) })
		for _, f := range fields {
			b.WriteString(f.Var + "<")
			vals := slices.Clone(f.Values)
			slices.Sort(vals)
			for _, v := range vals {
				b.WriteString(v + "<")
			}
		}
	}
	return b.String()
}

// Hash computes the verification string of info with algorithm algo
// (§5.1 step 9: binary digest, base64 with padding).
func Hash(algo string, info Info) (string, error) {
	newHash, ok := hashes[algo]
	if !ok {
		return "", ErrUnsupportedHash
	}
	h := newHash()
	h.Write([]byte(VerificationString(info)))
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

// Verify checks that info hashes to c.Ver with c.Hash (§5.4 step 3):
// nil when it does, ErrUnsupportedHash for a hash the server cannot
// compute (or the legacy format), ErrMismatch otherwise.
func Verify(c Caps, info Info) error {
	got, err := Hash(c.Hash, info)
	if err != nil {
		return err
	}
	if got != c.Ver {
		return ErrMismatch
	}
	return nil
}
