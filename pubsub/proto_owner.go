package pubsub

// Owner use cases on a node's life (XEP-0060 §8.1-§8.5): create (with a
// configuration form, or instant), configure (get the form, submit it,
// cancel it), the default configuration, delete (with a redirect), purge.

import (
	"github.com/gavelhq/gavel/xmlstream"
)

// nodeAttr is the element's 'node' attribute, which must be there
// (bad-request nodeid-required: §7.2.3.3, §8.2.3.3; no root collection).
func nodeAttr(el *xmlstream.Element) (string, error) {
	node := el.Attr("node")
	if node == "" {
		return "", errNodeIDRequired()
	}
	return node, nil
}

// create makes a node (§8.1): <create node='n'/> or <create/> for an
// instant node, optionally followed by <configure/> with a node_config
// form (§8.1.3, create-and-configure).
func (r *iqRequest) create(create, configure *xmlstream.Element) (*xmlstream.Element, error) {
	node := create.Attr("node")
	var cfg *Config
	if configure != nil {
		if configure.Attr("node") != "" {
			return nil, badRequest("<configure/> after <create/> takes no node")
		}
		form, err := submittedForm(configure, formNodeConfig)
		if err != nil {
			return nil, err
		}
		if form != nil && form.Type == "submit" {
			c := r.svc().DefaultConfig()
			if err := applyConfigForm(&c, form); err != nil {
				return nil, err
			}
			cfg = &c
		}
	}
	id, err := r.svc().Create(r.ctx, r.host, r.actor, node, cfg)
	if err != nil {
		return nil, err
	}
	if id == node {
		return nil, nil // the requester knows which node it made (§8.1.2)
	}
	return xmlstream.NewElement(NSPubSub, "pubsub").Append(
		xmlstream.NewElement(NSPubSub, "create", "node", id)), nil
}

// configureGet returns the node's configuration form (§8.2.1-§8.2.2).
func (r *iqRequest) configureGet(configure *xmlstream.Element) (*xmlstream.Element, error) {
	node, err := nodeAttr(configure)
	if err != nil {
		return nil, err
	}
	cfg, err := r.svc().NodeConfig(r.ctx, r.host, r.actor, node)
	if err != nil {
		return nil, err
	}
	return xmlstream.NewElement(NSPubSubOwner, "pubsub").Append(
		xmlstream.NewElement(NSPubSubOwner, "configure", "node", node).Append(configForm(&cfg, "form"))), nil
}

// configureSet applies a submitted form to the current configuration
// (§8.2.3-§8.2.4); a cancelled form changes nothing (§8.2.3.7) but is
// still refused to a non-owner or for a missing node.
func (r *iqRequest) configureSet(configure *xmlstream.Element) (*xmlstream.Element, error) {
	node, err := nodeAttr(configure)
	if err != nil {
		return nil, err
	}
	form, err := submittedForm(configure, formNodeConfig)
	if err != nil {
		return nil, err
	}
	if form == nil {
		return nil, badRequest("<configure/> needs a data form")
	}
	cfg, err := r.svc().NodeConfig(r.ctx, r.host, r.actor, node)
	if err != nil || form.Type == "cancel" {
		return nil, err
	}
	if err := applyConfigForm(&cfg, form); err != nil {
		return nil, err
	}
	return nil, r.svc().Configure(r.ctx, r.host, r.actor, node, cfg)
}

// defaultNodeConfig returns the configuration new nodes get (§8.3); only
// leaf nodes exist.
func (r *iqRequest) defaultNodeConfig(def *xmlstream.Element) (*xmlstream.Element, error) {
	switch def.Attr("type") {
	case "", "leaf":
	case "collection":
		return nil, errUnsupported("collections")
	default:
		return nil, badRequest("unknown node type")
	}
	cfg := r.svc().DefaultConfig()
	return xmlstream.NewElement(NSPubSubOwner, "pubsub").Append(
		xmlstream.NewElement(NSPubSubOwner, "default").Append(configForm(&cfg, "form"))), nil
}

// deleteNode deletes a node (§8.4), with an optional <redirect uri/>.
func (r *iqRequest) deleteNode(del *xmlstream.Element) error {
	node, err := nodeAttr(del)
	if err != nil {
		return err
	}
	redirect := ""
	if rd := del.Child(NSPubSubOwner, "redirect"); rd != nil {
		if redirect = rd.Attr("uri"); redirect == "" {
			return badRequest("<redirect/> needs a uri")
		}
	}
	return r.svc().Delete(r.ctx, r.host, r.actor, node, redirect)
}

// purge removes every item of a node (§8.5).
func (r *iqRequest) purge(purge *xmlstream.Element) error {
	node, err := nodeAttr(purge)
	if err != nil {
		return err
	}
	return r.svc().Purge(r.ctx, r.host, r.actor, node)
}
