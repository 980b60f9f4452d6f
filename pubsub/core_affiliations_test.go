package pubsub

// Manage affiliations (§8.9) and retrieve affiliations (§5.7).

import (
	"slices"
	"testing"
)

func affList(affs []Affiliate) []string {
	out := make([]string, len(affs))
	for i, a := range affs {
		out[i] = a.JID.String() + "=" + a.Affiliation.String()
		if a.Node != "" && a.JID.String() == "" {
			out[i] = a.Node + "=" + a.Affiliation.String()
		}
	}
	return out
}

func TestModifyAffiliations(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", nil)
	juliet := jidOf("juliet@example.com")
	_, err := e.svc.ModifyAffiliations(bgCtx, coreHost, jidOf("romeo@example.com"), "n", nil)
	wantCoreErr(t, err, "forbidden", "auth", "")
	_, err = e.svc.NodeAffiliations(bgCtx, coreHost, jidOf("romeo@example.com"), "n")
	wantCoreErr(t, err, "forbidden", "auth", "")
	_, err = e.svc.ModifyAffiliations(bgCtx, coreHost, juliet, "nope", nil)
	wantCoreErr(t, err, "item-not-found", "cancel", "")
	// The same JID twice is bad-request (§8.9.2.4), whole request.
	_, err = e.svc.ModifyAffiliations(bgCtx, coreHost, juliet, "n", []Affiliate{
		{JID: jidOf("romeo@example.com"), Affiliation: AffMember}, {JID: jidOf("romeo@example.com/x"), Affiliation: AffPublisher}})
	wantCoreErr(t, err, "bad-request", "modify", "")
	// The last owner cannot leave (§8.9.2.4); the rest applies.
	failed, err := e.svc.ModifyAffiliations(bgCtx, coreHost, juliet, "n", []Affiliate{
		{JID: juliet, Affiliation: AffNone},
		{JID: jidOf("polonius@example.com"), Affiliation: AffOutcast},
		{JID: jidOf("bard@example.com/quill"), Affiliation: AffPublisher},
	})
	mustOK(t, err)
	if got := affList(failed); !slices.Equal(got, []string{"juliet@example.com=owner"}) {
		t.Fatalf("failed = %v", got)
	}
	affs, err := e.svc.NodeAffiliations(bgCtx, coreHost, juliet, "n")
	mustOK(t, err)
	if got := affList(affs); !slices.Equal(got, []string{"bard@example.com=publisher", "juliet@example.com=owner", "polonius@example.com=outcast"}) {
		t.Fatalf("affiliations = %v", got)
	}
	// With a second owner the first may resign.
	mustOK(t, coreSetAff(e, "n", "nurse@example.com", AffOwner))
	failed, err = e.svc.ModifyAffiliations(bgCtx, coreHost, juliet, "n", []Affiliate{{JID: juliet, Affiliation: AffNone}})
	mustOK(t, err)
	if len(failed) != 0 {
		t.Fatalf("failed = %v", affList(failed))
	}
	_, err = e.svc.NodeAffiliations(bgCtx, coreHost, juliet, "n")
	wantCoreErr(t, err, "forbidden", "auth", "")
	// Removing an affiliation deletes it: none is never listed.
	failed, err = e.svc.ModifyAffiliations(bgCtx, coreHost, jidOf("nurse@example.com"), "n", []Affiliate{{JID: jidOf("bard@example.com"), Affiliation: AffNone}})
	mustOK(t, err)
	affs, err = e.svc.NodeAffiliations(bgCtx, coreHost, jidOf("nurse@example.com"), "n")
	mustOK(t, err)
	if got := affList(affs); len(failed) != 0 || !slices.Equal(got, []string{"nurse@example.com=owner", "polonius@example.com=outcast"}) {
		t.Fatalf("affiliations = %v", got)
	}
}

func TestOutcastLosesSubscriptions(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", nil)
	romeo := jidOf("romeo@example.com")
	_, err := e.svc.Subscribe(bgCtx, coreHost, romeo, "n", romeo, nil)
	mustOK(t, err)
	_, err = e.svc.Subscribe(bgCtx, coreHost, romeo, "n", jidOf("romeo@example.com/phone"), nil)
	mustOK(t, err)
	e.rec.take()
	mustOK(t, coreSetAff(e, "n", "romeo@example.com", AffOutcast))
	subs, err := e.svc.NodeSubscriptions(bgCtx, coreHost, jidOf("juliet@example.com"), "n")
	mustOK(t, err)
	if len(subs) != 0 {
		t.Fatalf("outcast still subscribed: %+v", subs)
	}
	if evs := eventsOf(e.rec.take(), EventSubscription); len(evs) != 2 {
		t.Fatalf("subscription events = %+v", evs)
	}
	e.publish("juliet@example.com", "n", "a", "x")
	if evs := eventsOf(e.rec.take(), EventItems); len(evs) != 0 {
		t.Fatalf("outcast notified: %+v", evs)
	}
}

func TestPublisherGetsPendingApproved(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", func(c *Config) { c.AccessModel = AccessAuthorize })
	romeo := jidOf("romeo@example.com")
	s, err := e.svc.Subscribe(bgCtx, coreHost, romeo, "n", romeo, nil)
	mustOK(t, err)
	if s.State != SubPending {
		t.Fatalf("state = %v", s.State)
	}
	mustOK(t, coreSetAff(e, "n", "romeo@example.com", AffPublisher))
	mine, err := e.svc.Subscriptions(bgCtx, coreHost, romeo, "n")
	mustOK(t, err)
	if len(mine) != 1 || mine[0].State != SubSubscribed {
		t.Fatalf("subscriptions = %+v", mine)
	}
	// Affiliated entities subscribe without approval.
	_, err = e.svc.Subscribe(bgCtx, coreHost, jidOf("nurse@example.com"), "n", jidOf("nurse@example.com"), nil)
	mustOK(t, err)
	mustOK(t, coreSetAff(e, "n", "benvolio@example.com", AffMember))
	s, err = e.svc.Subscribe(bgCtx, coreHost, jidOf("benvolio@example.com"), "n", jidOf("benvolio@example.com"), nil)
	mustOK(t, err)
	if s.State != SubSubscribed {
		t.Fatalf("member state = %v", s.State)
	}
}

func TestServiceWideAffiliations(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "a", nil)
	e.createNode("juliet@example.com", "b", nil)
	e.createNode("romeo@example.com", "c", nil)
	mustOK(t, coreSetAff(e, "b", "romeo@example.com", AffPublisher))
	affs, err := e.svc.Affiliations(bgCtx, coreHost, jidOf("romeo@example.com/orchard"), "")
	mustOK(t, err)
	var got []string
	for _, a := range affs {
		got = append(got, a.Node+"="+a.Affiliation.String())
	}
	if !slices.Equal(got, []string{"b=publisher", "c=owner"}) {
		t.Fatalf("affiliations = %v", got)
	}
	one, err := e.svc.Affiliations(bgCtx, coreHost, jidOf("romeo@example.com"), "a")
	mustOK(t, err)
	if len(one) != 0 {
		t.Fatalf("affiliation with a = %+v", one)
	}
	none, err := e.svc.Affiliations(bgCtx, coreHost, jidOf("nobody@example.com"), "")
	mustOK(t, err)
	if none == nil || len(none) != 0 {
		t.Fatalf("none = %#v", none)
	}
}

func TestOwnerListsOnMissingNode(t *testing.T) {
	e := newCoreEnv(t, nil)
	juliet := jidOf("juliet@example.com")
	_, err := e.svc.NodeAffiliations(bgCtx, coreHost, juliet, "nope")
	wantCoreErr(t, err, "item-not-found", "cancel", "")
	_, err = e.svc.NodeSubscriptions(bgCtx, coreHost, juliet, "nope")
	wantCoreErr(t, err, "item-not-found", "cancel", "")
	_, err = e.svc.PendingSubscriptions(bgCtx, coreHost, juliet, "nope")
	wantCoreErr(t, err, "item-not-found", "cancel", "")
	_, err = e.svc.Affiliations(bgCtx, coreHost, juliet, "nope")
	wantCoreErr(t, err, "item-not-found", "cancel", "")
	wantCoreErr(t, e.svc.Authorize(bgCtx, coreHost, juliet, "nope", jidOf("romeo@example.com"), "", true), "item-not-found", "cancel", "")
}
