package mam

import (
	"context"
	"testing"

	"github.com/gavelhq/gavel/data"
)

func TestStreamReadsItsStream(t *testing.T) {
	store, err := data.OpenInMemory()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	ctx := context.Background()
	for _, d := range []string{"a", "b", "c"} {
		if _, err := store.Append(ctx, "mine", []byte(d), data.AnySeq); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Append(ctx, "other", []byte("x"), data.AnySeq); err != nil {
		t.Fatal(err)
	}
	s := Stream{Store: store, Name: "mine"}
	es, err := s.Read(ctx, 2, 5)
	if err != nil || len(es) != 2 || es[0].Seq != 2 || string(es[1].Data) != "c" {
		t.Errorf("Read from 2: %+v %v", es, err)
	}
	es, err = s.ReadBack(ctx, 2, 5)
	if err != nil || len(es) != 2 || string(es[0].Data) != "b" || string(es[1].Data) != "a" {
		t.Errorf("ReadBack from 2: %+v %v", es, err)
	}
}
