package xmlstream

// Placeholder until the real lexer lands: the API in decoder.go is the contract.

import (
	"errors"
	"io"
)

type lexer struct{}

var errTODO = errors.New("xmlstream: lexer not implemented yet")

func newLexer(r io.Reader, lim Limits) *lexer                           { return &lexer{} }
func (l *lexer) reset(r io.Reader)                                      {}
func (l *lexer) readHeader() (StreamHeader, error)                      { return StreamHeader{}, errTODO }
func (l *lexer) next() (*Stanza, error)                                 { return nil, errTODO }
func parseElement(raw []byte, inh string, lim Limits) (*Element, error) { return nil, errTODO }
func parseStanza(raw []byte, inh string, lim Limits) (*Stanza, error)   { return nil, errTODO }
