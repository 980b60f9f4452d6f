package pubsub

import (
	"slices"
	"testing"
)

// A deleted account leaves nothing on the service: its subscriptions and
// affiliations go, nodes it alone owned are deleted (subscribers told),
// nodes with another owner stay.
func TestForgetUser(t *testing.T) {
	e := newCoreEnv(t, nil)
	romeo := jidOf("romeo@example.com")
	e.createNode("romeo@example.com", "romeo-only", nil)
	e.createNode("juliet@example.com", "shared", nil)
	e.createNode("juliet@example.com", "juliets", nil)
	mustOK(t, coreSetAff(e, "shared", "romeo@example.com", AffOwner))
	mustOK(t, coreSetAff(e, "juliets", "romeo@example.com", AffPublisher))
	for _, node := range []string{"juliets", "shared"} {
		_, err := e.svc.Subscribe(bgCtx, coreHost, romeo, node, romeo, nil)
		mustOK(t, err)
	}
	nurse := jidOf("nurse@example.com")
	_, err := e.svc.Subscribe(bgCtx, coreHost, nurse, "romeo-only", nurse, nil)
	mustOK(t, err)
	e.rec.take()

	mustOK(t, e.svc.ForgetUser(bgCtx, coreHost, jidOf("romeo@example.com/gone")))

	if _, err := e.svc.Info(bgCtx, coreHost, jidOf("juliet@example.com"), "romeo-only"); err == nil {
		t.Fatal("the node romeo alone owned survived him")
	}
	if evs := eventsOf(e.rec.take(), EventDelete); len(evs) != 1 || !slices.Equal(recipientAddrs(evs[0].to), []string{"nurse@example.com"}) {
		t.Fatalf("delete notifications: %+v", evs)
	}
	for _, node := range []string{"shared", "juliets"} {
		subs, err := e.svc.NodeSubscriptions(bgCtx, coreHost, jidOf("juliet@example.com"), node)
		mustOK(t, err)
		if len(subs) != 0 {
			t.Fatalf("%s: subscriptions left: %+v", node, subs)
		}
		affs, err := e.svc.NodeAffiliations(bgCtx, coreHost, jidOf("juliet@example.com"), node)
		mustOK(t, err)
		for _, a := range affs {
			if a.JID.String() == "romeo@example.com" {
				t.Fatalf("%s: affiliation left: %+v", node, a)
			}
		}
	}
	if subs, err := e.svc.Subscriptions(bgCtx, coreHost, romeo, ""); err != nil || len(subs) != 0 {
		t.Fatalf("romeo's subscription index: %+v, %v", subs, err)
	}
	if affs, err := e.svc.Affiliations(bgCtx, coreHost, romeo, ""); err != nil || len(affs) != 0 {
		t.Fatalf("romeo's affiliation index: %+v, %v", affs, err)
	}
}
