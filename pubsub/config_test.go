package pubsub

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigs(t *testing.T) {
	c := DefaultConfig()
	want := map[string][]string{
		"pubsub#access_model":             {"open"},
		"pubsub#publish_model":            {"publishers"},
		"pubsub#subscribe":                {"1"},
		"pubsub#max_items":                {"10"},
		"pubsub#persist_items":            {"1"},
		"pubsub#item_expire":              {"0"},
		"pubsub#max_payload_size":         {"262144"},
		"pubsub#deliver_notifications":    {"1"},
		"pubsub#deliver_payloads":         {"1"},
		"pubsub#notify_config":            {"0"},
		"pubsub#notify_delete":            {"1"},
		"pubsub#notify_retract":           {"1"},
		"pubsub#notify_sub":               {"0"},
		"pubsub#presence_based_delivery":  {"0"},
		"pubsub#purge_offline":            {"0"},
		"pubsub#send_last_published_item": {"on_sub_and_presence"},
		"pubsub#notification_type":        {"headline"},
		"pubsub#itemreply":                {"owner"},
		"pubsub#node_type":                {"leaf"},
		"pubsub#title":                    nil,
		"pubsub#roster_groups_allowed":    nil,
		"pubsub#contact":                  nil,
		"pubsub#type":                     nil,
		"pubsub#description":              nil,
		"pubsub#language":                 nil,
		"pubsub#body_xslt":                nil,
		"pubsub#dataform_xslt":            nil,
	}
	for v, vals := range want {
		got, ok := c.Values(v)
		if !ok || !slices.Equal(got, vals) {
			t.Errorf("default %s = %v (%v), want %v", v, got, ok, vals)
		}
	}
	if _, ok := c.Values("pubsub#tempsub"); ok {
		t.Error("Values of an unknown field is ok")
	}
	if !c.Matches(map[string][]string{"pubsub#access_model": {"open"}, "pubsub#max_items": {"10"}}) {
		t.Error("the default config does not match its own values")
	}
	pep := DefaultPEPConfig()
	if pep.AccessModel != AccessPresence || pep.MaxItems != 1 || pep.SendLastPublishedItem != SendLastOnSubAndPresence || !pep.PersistItems {
		t.Errorf("DefaultPEPConfig = %+v", pep)
	}
}

func TestConfigFieldsAreComplete(t *testing.T) {
	fields := ConfigFields()
	seen := map[string]bool{}
	c := DefaultConfig()
	for _, f := range fields {
		if seen[f.Var] {
			t.Errorf("%s listed twice", f.Var)
		}
		seen[f.Var] = true
		if f.Label == "" || !strings.HasPrefix(f.Var, "pubsub#") {
			t.Errorf("field %+v", f)
		}
		switch f.Type {
		case "boolean", "text-single", "list-single", "list-multi", "jid-multi":
		default:
			t.Errorf("%s has type %q", f.Var, f.Type)
		}
		if f.Type == "list-single" && len(f.Options) == 0 {
			t.Errorf("%s has no options", f.Var)
		}
		if _, ok := c.Values(f.Var); !ok {
			t.Errorf("%s listed but has no values", f.Var)
		}
	}
	// Every Config field has its form field (26 of them); node_type is
	// accepted but not offered.
	if len(fields) != 26 || seen["pubsub#node_type"] {
		t.Errorf("%d fields (node_type offered: %v)", len(fields), seen["pubsub#node_type"])
	}
	// The §8.2 example's order.
	order := []string{"pubsub#title", "pubsub#deliver_notifications", "pubsub#deliver_payloads", "pubsub#notify_config",
		"pubsub#notify_delete", "pubsub#notify_retract", "pubsub#notify_sub", "pubsub#persist_items", "pubsub#max_items",
		"pubsub#item_expire", "pubsub#subscribe", "pubsub#access_model", "pubsub#roster_groups_allowed",
		"pubsub#publish_model", "pubsub#purge_offline", "pubsub#max_payload_size", "pubsub#send_last_published_item",
		"pubsub#presence_based_delivery", "pubsub#notification_type", "pubsub#type", "pubsub#dataform_xslt"}
	pos := -1
	for _, v := range order {
		i := slices.IndexFunc(fields, func(f FieldInfo) bool { return f.Var == v })
		if i <= pos {
			t.Errorf("%s out of the example's order", v)
		}
		pos = i
	}
	// Callers may not change the table through the result.
	fields[12].Options = append(fields[12].Options[:0], FieldOption{Value: "x"})
	if ConfigFields()[12].Options[0].Value == "x" {
		t.Error("ConfigFields shares its options")
	}
}

func TestConfigRoundTrip(t *testing.T) {
	set := map[string][]string{
		"pubsub#title":                    {"Princely Musings (Atom)"},
		"pubsub#description":              {"Updates about the prince"},
		"pubsub#type":                     {"http://www.w3.org/2005/Atom"},
		"pubsub#language":                 {"en-GB"},
		"pubsub#contact":                  {"hamlet@denmark.lit", "horatio@denmark.lit/castle"},
		"pubsub#access_model":             {"roster"},
		"pubsub#roster_groups_allowed":    {"friends", "courtiers"},
		"pubsub#publish_model":            {"subscribers"},
		"pubsub#subscribe":                {"0"},
		"pubsub#max_items":                {"max"},
		"pubsub#persist_items":            {"0"},
		"pubsub#item_expire":              {"604800"},
		"pubsub#max_payload_size":         {"9216"},
		"pubsub#deliver_notifications":    {"0"},
		"pubsub#deliver_payloads":         {"0"},
		"pubsub#notify_config":            {"1"},
		"pubsub#notify_delete":            {"0"},
		"pubsub#notify_retract":           {"0"},
		"pubsub#notify_sub":               {"1"},
		"pubsub#presence_based_delivery":  {"1"},
		"pubsub#purge_offline":            {"1"},
		"pubsub#send_last_published_item": {"never"},
		"pubsub#notification_type":        {"normal"},
		"pubsub#itemreply":                {"publisher"},
		"pubsub#body_xslt":                {"http://jabxslt.jabberstudio.org/atom_body.xslt"},
		"pubsub#dataform_xslt":            {"http://example.org/form.xslt"},
		"pubsub#node_type":                {"leaf"},
	}
	c := DefaultConfig()
	for v, vals := range set {
		if err := c.Set(v, vals); err != nil {
			t.Fatalf("Set(%s, %v): %v", v, vals, err)
		}
	}
	for v, vals := range set {
		if got, _ := c.Values(v); !slices.Equal(got, vals) {
			t.Errorf("%s = %v after setting %v", v, got, vals)
		}
	}
	if c.MaxItems != MaxItemsMax || c.ItemExpire != 7*24*time.Hour || c.Subscribe || !c.NotifySub {
		t.Errorf("typed values: %+v", c)
	}
	if !c.Matches(set) {
		t.Error("a config does not match the fields it was set from")
	}
	// Values → Set → Values is stable for every field, from the defaults too.
	for _, base := range []Config{c, DefaultConfig(), DefaultPEPConfig()} {
		var copy Config
		for _, f := range ConfigFields() {
			vals, _ := base.Values(f.Var)
			if err := copy.Set(f.Var, vals); err != nil {
				t.Fatalf("Set(%s, %v) of its own values: %v", f.Var, vals, err)
			}
		}
		if !slices.Equal(copy.Contact, base.Contact) || copy.Title != base.Title || copy.MaxItems != base.MaxItems || copy.ItemReply != base.ItemReply {
			t.Errorf("copied config %+v, want %+v", copy, base)
		}
	}
}

func TestConfigSetAcceptsSpellings(t *testing.T) {
	c := DefaultConfig()
	for _, s := range []struct {
		v, val string
		check  func() bool
	}{
		{"pubsub#notify_sub", "true", func() bool { return c.NotifySub }},
		{"pubsub#notify_sub", "false", func() bool { return !c.NotifySub }},
		{"pubsub#persist_items", "1", func() bool { return c.PersistItems }},
		{"pubsub#max_items", " 25 ", func() bool { return c.MaxItems == 25 }},
		{"pubsub#max_items", "0", func() bool { return c.MaxItems == 0 }},
		{"pubsub#item_expire", "max", func() bool { return c.ItemExpire == 0 }},
		{"pubsub#contact", "Hamlet@Denmark.lit", func() bool { return slices.Equal(c.Contact, []string{"hamlet@denmark.lit"}) }},
		{"pubsub#title", "", func() bool { return c.Title == "" }},
	} {
		if err := c.Set(s.v, []string{s.val}); err != nil || !s.check() {
			t.Errorf("Set(%s, %q): %v, config %+v", s.v, s.val, err, c)
		}
	}
	if err := c.Set("pubsub#roster_groups_allowed", []string{"a", "b", "a", ""}); err != nil || !slices.Equal(c.RosterGroupsAllowed, []string{"a", "b"}) {
		t.Errorf("groups = %v, %v", c.RosterGroupsAllowed, err)
	}
	if err := c.Set("pubsub#roster_groups_allowed", nil); err != nil || c.RosterGroupsAllowed != nil {
		t.Errorf("clearing groups: %v, %v", c.RosterGroupsAllowed, err)
	}
	if err := c.Set("FORM_TYPE", []string{"http://jabber.org/protocol/pubsub#node_config"}); err != nil {
		t.Errorf("FORM_TYPE: %v", err)
	}
}

func TestConfigSetRefusesInvalid(t *testing.T) {
	many := make([]string, maxConfigValues+1)
	for i := range many {
		many[i] = "g" + strings.Repeat("x", i)
	}
	cases := []struct {
		v    string
		vals []string
	}{
		{"pubsub#unknown", []string{"1"}},
		{"pubsub#tempsub", []string{"1"}},
		{"pubsub#notify_sub", []string{"yes"}},
		{"pubsub#notify_sub", nil},
		{"pubsub#notify_sub", []string{"1", "0"}},
		{"pubsub#max_items", []string{"-1"}},
		{"pubsub#max_items", []string{"ten"}},
		{"pubsub#max_items", []string{"99999999999999999999"}},
		{"pubsub#max_items", []string{"1", "2"}},
		{"pubsub#item_expire", []string{"-5"}},
		{"pubsub#item_expire", []string{"1.5"}},
		{"pubsub#item_expire", []string{"9223372036854775807"}},
		{"pubsub#max_payload_size", []string{"0"}},
		{"pubsub#max_payload_size", []string{"big"}},
		{"pubsub#access_model", []string{"closed"}},
		{"pubsub#access_model", nil},
		{"pubsub#publish_model", []string{"everyone"}},
		{"pubsub#send_last_published_item", []string{"always"}},
		{"pubsub#notification_type", []string{"chat"}},
		{"pubsub#itemreply", []string{"nobody"}},
		{"pubsub#contact", []string{"not a jid@"}},
		{"pubsub#contact", []string{"@example.org"}},
		{"pubsub#roster_groups_allowed", many},
		{"pubsub#title", []string{strings.Repeat("t", maxConfigText+1)}},
		{"pubsub#title", []string{"a", "b"}},
		{"pubsub#title", []string{"\xff"}},
		{"pubsub#language", []string{"en GB"}},
		{"pubsub#language", []string{"-en"}},
		{"pubsub#node_type", []string{"branch"}},
	}
	for _, c := range cases {
		cfg := DefaultConfig()
		before := cfg
		err := cfg.Set(c.v, c.vals)
		var pe *Error
		if !errors.As(err, &pe) || pe.Cond != "not-acceptable" || pe.Type != "modify" || pe.App != "" {
			t.Errorf("Set(%s, %.40q) = %v, want not-acceptable modify", c.v, c.vals, err)
		}
		if cfg.Title != before.Title || cfg.MaxItems != before.MaxItems || cfg.Contact != nil || cfg.AccessModel != before.AccessModel {
			t.Errorf("a refused Set(%s) changed the config", c.v)
		}
	}
	cfg := DefaultConfig()
	err := cfg.Set("pubsub#node_type", []string{"collection"})
	var pe *Error
	if !errors.As(err, &pe) || pe.Cond != "feature-not-implemented" || pe.App != "unsupported" || pe.Feature != "collections" {
		t.Errorf("node_type collection = %v, want unsupported collections", err)
	}
}

func TestConfigMatches(t *testing.T) {
	c := DefaultConfig()
	c.AccessModel = AccessWhitelist
	c.MaxItems = MaxItemsMax
	c.SendLastPublishedItem = SendLastNever
	c.Contact = []string{"a@example.org", "b@example.org"}
	cases := []struct {
		name   string
		fields map[string][]string
		want   bool
	}{
		{"none", nil, true},
		{"XEP-0223 private storage", map[string][]string{
			"FORM_TYPE":                       {"http://jabber.org/protocol/pubsub#publish-options"},
			"pubsub#persist_items":            {"true"},
			"pubsub#access_model":             {"whitelist"},
			"pubsub#send_last_published_item": {"never"},
			"pubsub#max_items":                {"max"},
		}, true},
		{"boolean spelled 1", map[string][]string{"pubsub#persist_items": {"1"}}, true},
		{"boolean differs", map[string][]string{"pubsub#persist_items": {"false"}}, false},
		{"access differs", map[string][]string{"pubsub#access_model": {"presence"}}, false},
		{"number vs max", map[string][]string{"pubsub#max_items": {"10"}}, false},
		{"contacts as a set", map[string][]string{"pubsub#contact": {"b@example.org", "a@example.org"}}, true},
		{"contacts differ", map[string][]string{"pubsub#contact": {"a@example.org"}}, false},
		{"unknown field", map[string][]string{"pubsub#tempsub": {"1"}}, false},
		{"invalid value", map[string][]string{"pubsub#persist_items": {"maybe"}}, false},
		{"leaf", map[string][]string{"pubsub#node_type": {"leaf"}}, true},
		{"collection", map[string][]string{"pubsub#node_type": {"collection"}}, false},
	}
	for _, tc := range cases {
		if got := c.Matches(tc.fields); got != tc.want {
			t.Errorf("%s: Matches = %v, want %v", tc.name, got, tc.want)
		}
	}
	n := DefaultConfig()
	if !n.Matches(map[string][]string{"pubsub#max_items": {"010"}, "pubsub#item_expire": {"max"}}) {
		t.Error("numbers do not compare as numbers")
	}
	if c.AccessModel != AccessWhitelist || len(c.Contact) != 2 {
		t.Error("Matches changed the config")
	}
}

func TestSubOptionsRoundTrip(t *testing.T) {
	fields := SubOptionFields()
	var vars []string
	for _, f := range fields {
		vars = append(vars, f.Var)
	}
	if !slices.Equal(vars, []string{"pubsub#deliver", "pubsub#digest", "pubsub#digest_frequency", "pubsub#expire", "pubsub#include_body", "pubsub#show-values"}) {
		t.Fatalf("fields %v", vars)
	}
	if len(fields[5].Options) != 5 || fields[5].Type != "list-multi" {
		t.Fatalf("show-values field %+v", fields[5])
	}
	set := map[string][]string{
		"pubsub#deliver":          {"1"},
		"pubsub#digest":           {"1"},
		"pubsub#digest_frequency": {"86400000"},
		"pubsub#expire":           {"2006-02-28T23:59:59.5Z"},
		"pubsub#include_body":     {"1"},
		"pubsub#show-values":      {"chat", "online", "away"},
	}
	var o SubOptions
	for v, vals := range set {
		if err := o.Set(v, vals); err != nil {
			t.Fatalf("Set(%s): %v", v, err)
		}
	}
	for v, vals := range set {
		if got, ok := o.Values(v); !ok || !slices.Equal(got, vals) {
			t.Errorf("%s = %v, want %v", v, got, vals)
		}
	}
	if !o.Expire.Equal(time.Date(2006, 2, 28, 23, 59, 59, 5e8, time.UTC)) || o.DigestFreq != 86400000 {
		t.Errorf("typed values %+v", o)
	}
	if err := o.Set("pubsub#expire", []string{"2006-03-01T01:00:00+02:00"}); err != nil || !o.Expire.Equal(time.Date(2006, 2, 28, 23, 0, 0, 0, time.UTC)) {
		t.Errorf("expire with an offset: %v, %v", o.Expire, err)
	}
	if err := o.Set("pubsub#expire", []string{"presence"}); err != nil || !o.ExpireOnPresence || !o.Expire.IsZero() {
		t.Errorf("expire presence: %+v, %v", o, err)
	}
	if got, _ := o.Values("pubsub#expire"); !slices.Equal(got, []string{"presence"}) {
		t.Errorf("expire shows %v", got)
	}
	if err := o.Set("pubsub#expire", nil); err != nil || o.ExpireOnPresence || !o.Expire.IsZero() {
		t.Errorf("clearing expire: %+v, %v", o, err)
	}
	if got, ok := o.Values("pubsub#expire"); !ok || got != nil {
		t.Errorf("no expiry shows %v", got)
	}
	if _, ok := o.Values("pubsub#subscription_depth"); ok {
		t.Error("a collection option is known")
	}
	if err := o.Set("FORM_TYPE", []string{"http://jabber.org/protocol/pubsub#subscribe_options"}); err != nil {
		t.Errorf("FORM_TYPE: %v", err)
	}
}

func TestSubOptionsRefuseInvalid(t *testing.T) {
	cases := []struct {
		v    string
		vals []string
	}{
		{"pubsub#unknown", []string{"1"}},
		{"pubsub#subscription_type", []string{"items"}},
		{"pubsub#deliver", []string{"yes"}},
		{"pubsub#deliver", []string{"1", "1"}},
		{"pubsub#digest_frequency", []string{"-1"}},
		{"pubsub#digest_frequency", []string{"99999999999"}},
		{"pubsub#expire", []string{"tomorrow"}},
		{"pubsub#expire", []string{"2006-02-28"}},
		{"pubsub#show-values", []string{"busy"}},
		{"pubsub#show-values", make([]string, maxConfigValues+1)},
	}
	for _, c := range cases {
		o := SubOptions{Deliver: true, ShowValues: []string{"chat"}}
		err := o.Set(c.v, c.vals)
		var pe *Error
		if !errors.As(err, &pe) || pe.Cond != "bad-request" || pe.Type != "modify" || pe.App != "invalid-options" {
			t.Errorf("Set(%s, %.40q) = %v, want bad-request invalid-options", c.v, c.vals, err)
		}
		if !o.Deliver || !slices.Equal(o.ShowValues, []string{"chat"}) {
			t.Errorf("a refused Set(%s) changed the options: %+v", c.v, o)
		}
	}
}
