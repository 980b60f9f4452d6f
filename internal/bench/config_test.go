package bench

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseArgsDefaultsAndPositionalScenario(t *testing.T) {
	c, err := ParseArgs([]string{"-addr", "127.0.0.1:15222", "-rate", "500", "-duration", "3s", "s3"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Scenario != "S3" || c.Addr != "127.0.0.1:15222" || c.Rate != 500 || c.Duration != 3*time.Second {
		t.Fatalf("parsed %+v", c)
	}
	if c.Mechanism != "auto" || c.TLS != "starttls" || !c.NoStore || c.BodyBytes != 200 {
		t.Fatalf("defaults not kept: %+v", c)
	}
}

func TestParseArgsRejects(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"S9"}, "unknown scenario"},
		{[]string{}, "unknown scenario"},
		{[]string{"-rate", "0", "S3"}, "-rate"},
		{[]string{"-duration", "2h", "S3"}, "-duration"},
		{[]string{"-users", "1", "S3"}, "at least 2"},
		{[]string{"-body-bytes", "10", "S3"}, "-body-bytes"},
		{[]string{"-transport", "udp", "S2"}, "-transport"},
		{[]string{"-transport", "ws", "S2"}, "-ws-url"},
		{[]string{"-tls", "maybe", "S2"}, "-tls"},
		{[]string{"-mechanism", "DIGEST-MD5", "S2"}, "-mechanism"},
		{[]string{"-addr", "nohost", "S2"}, "-addr"},
		{[]string{"-logins", "-5", "S2"}, "-logins"},
		{[]string{"-sessions", "5000", "-users", "10", "S1"}, "sessions/10"},
		{[]string{"-hold", "0s", "S1"}, "-hold"},
		{[]string{"-prefix", "a@b", "S1"}, "-prefix"},
		{[]string{"-password", "<x>", "S1"}, "-password"},
		{[]string{"S1", "S2"}, "unexpected arguments"},
	} {
		_, err := ParseArgs(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseArgs(%q) = %v, want an error mentioning %q", tc.args, err, tc.want)
		}
	}
}

func TestDialerSpreadsSourceAddressesOnlyAboveThreshold(t *testing.T) {
	c := Defaults()
	if d := NewDialer(&c, nil, 5000); d.netDialer(7).LocalAddr != nil {
		t.Fatal("5,000 connections should use the kernel's source address")
	}
	d := NewDialer(&c, nil, 60000)
	seen := map[string]bool{}
	for i := range 10 {
		seen[d.netDialer(i).LocalAddr.String()] = true
	}
	if len(seen) < 4 || !seen["127.0.0.1:0"] {
		t.Fatalf("60,000 connections spread over %v", seen)
	}
}

func TestS3PayloadRoundTrip(t *testing.T) {
	now := time.Unix(1700000000, 123456789)
	b := appendS3Message(nil, "bench1@localhost/chat1", "", 3, 42, now, 200, "<no-store xmlns='urn:xmpp:hints'/>")
	s := string(b)
	start, end := strings.Index(s, "<body>")+len("<body>"), strings.Index(s, "</body>")
	if end-start != 200 {
		t.Fatalf("body is %d bytes, want 200: %s", end-start, s)
	}
	if !strings.Contains(s, "to='bench1@localhost/chat1'") || !strings.HasSuffix(s, "<no-store xmlns='urn:xmpp:hints'/></message>") {
		t.Fatalf("message %s", s)
	}
	got, ok := payloadTime(b)
	if !ok || got != now.UnixNano() {
		t.Fatalf("payloadTime = %d %v, want %d", got, ok, now.UnixNano())
	}
	if _, ok := payloadTime([]byte("<message><body>hello</body></message>")); ok {
		t.Fatal("foreign message parsed as ours")
	}
}

func TestComparisonRatios(t *testing.T) {
	lines := `garbage line
{"scenario":"S2","title":"login storm","server":"gavel","mechanism":"SCRAM-SHA-256","metrics":[{"name":"logins_per_s","value":1000,"unit":"/s","better":"higher","headline":true},{"name":"login_p99","value":10,"unit":"ms","better":"lower","headline":true}]}
{"scenario":"S2","title":"login storm","server":"prosody","mechanism":"SCRAM-SHA-1","metrics":[{"name":"logins_per_s","value":200,"unit":"/s","better":"higher","headline":true},{"name":"login_p99","value":300,"unit":"ms","better":"lower","headline":true}]}
{"scenario":"S2","title":"login storm","server":"ejabberd","mechanism":"SCRAM-SHA-1","metrics":[{"name":"logins_per_s","value":500,"unit":"/s","better":"higher","headline":true},{"name":"login_p99","value":40,"unit":"ms","better":"lower","headline":true}]}
`
	rs, err := ReadResults(strings.NewReader(lines))
	if err != nil || len(rs) != 3 {
		t.Fatalf("ReadResults: %d results, %v", len(rs), err)
	}
	var out strings.Builder
	WriteComparison(&out, rs, "gavel", true)
	got := out.String()
	for _, want := range []string{
		"| metric | gavel | prosody | ejabberd | gavel vs best peer |",
		"| logins_per_s (/s) | 1000 | 200.0 | 500.0 | 2.00x |", // vs ejabberd's 500
		"| login_p99 (ms) | 10.00 | 300.0 | 40.00 | 4.00x |",   // 40 / 10
		"| SASL mechanism | SCRAM-SHA-256 | SCRAM-SHA-1 | SCRAM-SHA-1 |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("comparison lacks %q:\n%s", want, got)
		}
	}
}
