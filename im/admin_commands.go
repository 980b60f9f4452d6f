package im

// XEP-0133 service administration: the ad-hoc commands server administrators
// (Options.Admins) may run on the domain, with the node URIs and form fields
// of the XEP. Supported: add-user, delete-user, change-user-password,
// get-registered-users-num, get-online-users-num, get-online-users-list and
// announce. Accounts are those of the primary domain; "online" counts every
// account with a bound resource, the anonymous host's included (§4.15:
// "at least one connected or available resource").

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/auth"
	"github.com/gavelhq/gavel/xmlstream"
)

// NSAdmin is the XEP-0133 namespace: the FORM_TYPE of its forms and the
// prefix of its command nodes.
const NSAdmin = "http://jabber.org/protocol/admin"

// XEP-0133 command nodes.
const (
	NodeAddUser            = NSAdmin + "#add-user"
	NodeDeleteUser         = NSAdmin + "#delete-user"
	NodeChangeUserPassword = NSAdmin + "#change-user-password"
	NodeRegisteredUsersNum = NSAdmin + "#get-registered-users-num"
	NodeOnlineUsersNum     = NSAdmin + "#get-online-users-num"
	NodeOnlineUsersList    = NSAdmin + "#get-online-users-list"
	NodeAnnounce           = NSAdmin + "#announce"
)

const (
	// maxAdminJIDs bounds the accounts one delete-user names.
	maxAdminJIDs = 100
	// maxOnlineList caps get-online-users-list even for max_items 'none':
	// the answer is one stanza.
	maxOnlineList = 10000
	// maxAnnouncementBytes bounds an announcement's text.
	maxAnnouncementBytes = 64 << 10
)

// adminCommands are the XEP-0133 commands, in the order they are listed.
func (s *Server) adminCommands() []*adhocCommand {
	admin := func(r jid.JID) bool { return s.IsAdmin(r.Bare().String()) }
	return []*adhocCommand{
		{Node: NodeAddUser, Name: "Add User", Allowed: admin,
			Stages: []commandStage{{Form: addUserForm, Check: s.checkAddUser}}, Complete: s.addUser},
		{Node: NodeDeleteUser, Name: "Delete User", Allowed: admin,
			Stages: []commandStage{{Form: deleteUserForm, Check: s.checkDeleteUser}}, Complete: s.deleteUsers},
		{Node: NodeChangeUserPassword, Name: "Change User Password", Allowed: admin,
			Stages: []commandStage{{Form: changePasswordForm, Check: s.checkChangePassword}}, Complete: s.changeUserPassword},
		{Node: NodeRegisteredUsersNum, Name: "Get Number of Registered Users", Allowed: admin,
			Complete: s.registeredUsersNum},
		{Node: NodeOnlineUsersNum, Name: "Get Number of Online Users", Allowed: admin,
			Complete: s.onlineUsersNum},
		{Node: NodeOnlineUsersList, Name: "Get List of Online Users", Allowed: admin,
			Stages: []commandStage{{Form: onlineListForm, Check: checkOnlineList}}, Complete: s.onlineUsersList},
		{Node: NodeAnnounce, Name: "Send Announcement to Online Users", Allowed: admin,
			Stages: []commandStage{{Form: announceForm, Check: checkAnnounce}}, Complete: s.announce},
	}
}

func adminForm(title, instructions string, fields ...formField) *xmlstream.Element {
	return newForm("form", NSAdmin, title, instructions, fields...)
}

func adminResult(fields ...formField) *xmlstream.Element {
	return newForm("result", NSAdmin, "", "", fields...)
}

// localAccount parses s as the bare JID of an account of the primary domain.
func (s *Server) localAccount(v string) (jid.JID, string) {
	j, err := jid.Parse(strings.TrimSpace(v))
	switch {
	case err != nil:
		return jid.JID{}, fmt.Sprintf("%q is not a valid JID", v)
	case j.Localpart() == "" || j.Resourcepart() != "":
		return jid.JID{}, fmt.Sprintf("%q is not a bare JID user@%s", v, s.opts.Domain)
	case j.Domainpart() != s.opts.Domain:
		return jid.JID{}, fmt.Sprintf("%q is not an account of %s", v, s.opts.Domain)
	}
	return j, ""
}

// §4.1 Add User.
func addUserForm(context.Context) *xmlstream.Element {
	return adminForm("Adding a User", "Fill out this form to add a user.",
		formField{Var: "accountjid", Type: "jid-single", Label: "The Jabber ID for the account to be added", Required: true},
		formField{Var: "password", Type: "text-private", Label: "The password for this account", Required: true},
		formField{Var: "password-verify", Type: "text-private", Label: "Retype password"})
}

func (s *Server) checkAddUser(f submittedForm) string {
	if _, msg := s.localAccount(f.value("accountjid")); msg != "" {
		return msg
	}
	if f.value("password") == "" {
		return "a password is required"
	}
	if f.has("password-verify") && f.value("password-verify") != f.value("password") {
		return "the passwords do not match"
	}
	return ""
}

func (s *Server) addUser(ctx context.Context, _ jid.JID, forms []submittedForm) (*commandResult, error) {
	j, _ := s.localAccount(forms[0].value("accountjid"))
	switch err := s.accounts.Create(ctx, j, forms[0].value("password")); {
	case err == nil:
		s.log.Info("account added by an administrator", "jid", j.String())
		return &commandResult{Notes: []commandNote{{"info", "Account " + j.String() + " created"}}}, nil
	case errors.Is(err, auth.ErrExists):
		return nil, &xmlstream.StanzaError{Type: xmlstream.ErrCancel, Condition: "conflict",
			Text: j.String() + " already exists"}
	case errors.Is(err, auth.ErrBadName), errors.Is(err, auth.ErrWeak):
		return nil, badPayload(err.Error())
	default:
		return nil, err
	}
}

// §4.2 Delete User.
func deleteUserForm(context.Context) *xmlstream.Element {
	return adminForm("Deleting a User", "Fill out this form to delete a user.",
		formField{Var: "accountjids", Type: "jid-multi", Label: "The Jabber ID(s) to delete", Required: true})
}

func (s *Server) checkDeleteUser(f submittedForm) string {
	jids := nonEmpty(f.all("accountjids"))
	switch {
	case len(jids) == 0:
		return "name at least one account"
	case len(jids) > maxAdminJIDs:
		return fmt.Sprintf("at most %d accounts at a time", maxAdminJIDs)
	}
	for _, v := range jids {
		if _, msg := s.localAccount(v); msg != "" {
			return msg
		}
	}
	return ""
}

func (s *Server) deleteUsers(ctx context.Context, _ jid.JID, forms []submittedForm) (*commandResult, error) {
	var deleted, missing []string
	for _, v := range nonEmpty(forms[0].all("accountjids")) {
		j, _ := s.localAccount(v)
		switch err := s.deleteAccount(ctx, j, "not-authorized", "The account was deleted", nil); {
		case err == nil:
			s.log.Info("account deleted by an administrator", "jid", j.String())
			deleted = append(deleted, j.String())
		case errors.Is(err, auth.ErrNoAccount):
			missing = append(missing, j.String())
		default:
			return nil, err
		}
	}
	res := &commandResult{}
	if len(deleted) > 0 {
		res.Notes = append(res.Notes, commandNote{"info", "Deleted: " + strings.Join(deleted, ", ")})
	}
	if len(missing) > 0 {
		// XEP-0050 §3.4: a command that completes but fails says so in an error note.
		res.Notes = append(res.Notes, commandNote{"error", "No such account: " + strings.Join(missing, ", ")})
	}
	return res, nil
}

// §4.7 Change User Password.
func changePasswordForm(context.Context) *xmlstream.Element {
	return adminForm("Changing a User Password", "Fill out this form to change a user's password.",
		formField{Var: "accountjid", Type: "jid-single", Label: "The Jabber ID for this account", Required: true},
		formField{Var: "password", Type: "text-private", Label: "The password for this account", Required: true})
}

func (s *Server) checkChangePassword(f submittedForm) string {
	if _, msg := s.localAccount(f.value("accountjid")); msg != "" {
		return msg
	}
	if f.value("password") == "" {
		return "a password is required"
	}
	return ""
}

func (s *Server) changeUserPassword(ctx context.Context, _ jid.JID, forms []submittedForm) (*commandResult, error) {
	j, _ := s.localAccount(forms[0].value("accountjid"))
	switch err := s.accounts.SetPassword(ctx, j, forms[0].value("password")); {
	case err == nil:
		s.log.Info("password changed by an administrator", "jid", j.String())
		return &commandResult{Notes: []commandNote{{"info", "Password of " + j.String() + " changed"}}}, nil
	case errors.Is(err, auth.ErrNoAccount):
		return nil, &xmlstream.StanzaError{Type: xmlstream.ErrCancel, Condition: "item-not-found",
			Text: "No such account: " + j.String()}
	case errors.Is(err, auth.ErrWeak):
		return nil, badPayload(err.Error())
	default:
		return nil, err
	}
}

// §4.13 Get Number of Registered Users.
func (s *Server) registeredUsersNum(ctx context.Context, _ jid.JID, _ []submittedForm) (*commandResult, error) {
	users, err := s.accounts.List(ctx, s.opts.Domain)
	if err != nil {
		return nil, err
	}
	return &commandResult{Payload: adminResult(formField{Var: "registeredusersnum",
		Label: "The number of registered users", Values: []string{strconv.Itoa(len(users))}})}, nil
}

// onlineUsers is the sorted bare JIDs with at least one bound resource.
func (s *Server) onlineUsers() []string {
	var out []string
	for _, r := range s.router.All() {
		j, err := jid.Parse(r.Full)
		if err != nil {
			continue
		}
		out = append(out, j.Bare().String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// §4.15 Get Number of Online Users.
func (s *Server) onlineUsersNum(context.Context, jid.JID, []submittedForm) (*commandResult, error) {
	return &commandResult{Payload: adminResult(formField{Var: "onlineusersnum",
		Label: "The number of online users", Values: []string{strconv.Itoa(len(s.onlineUsers()))}})}, nil
}

// §4.20 Get List of Online Users, with its max_items form.
var onlineListSizes = []string{"25", "50", "75", "100", "150", "200", "none"}

func onlineListForm(context.Context) *xmlstream.Element {
	opts := make([]formOption, len(onlineListSizes))
	for i, v := range onlineListSizes {
		opts[i] = formOption{Value: v}
		if v == "none" {
			opts[i].Label = "None"
		}
	}
	return adminForm("Requesting List of Online Users", "Fill out this form to request the online users of this service.",
		formField{Var: "max_items", Type: "list-single", Label: "Maximum number of items to show", Options: opts})
}

func checkOnlineList(f submittedForm) string {
	if v := f.value("max_items"); v != "" && !slices.Contains(onlineListSizes, v) {
		return "max_items must be one of " + strings.Join(onlineListSizes, ", ")
	}
	return ""
}

func (s *Server) onlineUsersList(_ context.Context, _ jid.JID, forms []submittedForm) (*commandResult, error) {
	limit := maxOnlineList
	if n, err := strconv.Atoi(forms[0].value("max_items")); err == nil {
		limit = n
	}
	users := s.onlineUsers()
	res := &commandResult{}
	if len(users) > limit {
		res.Notes = append(res.Notes, commandNote{"warn",
			fmt.Sprintf("Showing %d of %d online users", limit, len(users))})
		users = users[:limit]
	}
	res.Payload = adminResult(formField{Var: "onlineuserjids", Type: "jid-multi",
		Label: "The list of all online users", Values: users})
	return res, nil
}

// §4.23 Send Announcement to Online Users: a headline message from the
// domain to every bound resource.
func announceForm(context.Context) *xmlstream.Element {
	return adminForm("Making an Announcement", "Fill out this form to make an announcement to all active users of this service.",
		formField{Var: "announcement", Type: "text-multi", Label: "Announcement", Required: true})
}

func checkAnnounce(f submittedForm) string {
	text := strings.Join(f.all("announcement"), "\n")
	switch {
	case strings.TrimSpace(text) == "":
		return "the announcement is empty"
	case len(text) > maxAnnouncementBytes:
		return fmt.Sprintf("the announcement exceeds %d bytes", maxAnnouncementBytes)
	}
	return ""
}

func (s *Server) announce(ctx context.Context, _ jid.JID, forms []submittedForm) (*commandResult, error) {
	text := strings.Join(forms[0].all("announcement"), "\n")
	n := 0
	for _, r := range s.router.All() {
		msg := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindMessage,
			"from", s.opts.Domain, "to", r.Full, "type", "headline", "id", newPushID())
		msg.Append(xmlstream.NewElement(xmlstream.NSClient, "body").AppendText(text))
		if r.Session.Send(xmlstream.NewStanza(msg)) {
			n++
		}
	}
	s.log.Info("announcement sent", "sessions", n)
	return &commandResult{Notes: []commandNote{{"info", fmt.Sprintf("Announcement sent to %d sessions", n)}}}, nil
}

// nonEmpty drops blank values.
func nonEmpty(vals []string) []string {
	var out []string
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			out = append(out, v)
		}
	}
	return out
}
