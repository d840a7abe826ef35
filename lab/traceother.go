package lab

import (
	"strings"

	"kinn.dev/kinn/lab/kernel/nft"
	"kinn.dev/kinn/lab/proxy"
	"kinn.dev/kinn/lab/trace"
)

// traceOthers reads back the rules of the tables that are neither kinn's
// (unless edited) nor the trace's (a CNI plugin's, portmap's) in every namespace whose
// events name one: one dump per such namespace, text rendered for those
// tables only. The pods' CNI container IDs go with them, for the rules
// whose comments name a sandbox.
func (s *State) traceOthers(in *trace.Input) error {
	in.Others = map[string]map[trace.TableRuleKey]trace.TableRule{}
	for _, ev := range in.Events {
		// kinn's own table too where it was edited (traceRules).
		other := func(table string) bool {
			return (table != proxy.TableName || in.Edited[ev.Netns]) && !strings.HasPrefix(table, trace.TablePrefix)
		}
		if _, done := in.Others[ev.Netns]; done || !other(ev.Table) {
			continue
		}
		rules, err := nft.Rules(ev.Netns, "", other)
		if err != nil {
			return err
		}
		m := map[trace.TableRuleKey]trace.TableRule{}
		for _, r := range rules {
			if other(r.Table) {
				m[r.TableRuleKey] = r.TableRule
			}
		}
		in.Others[ev.Netns] = m
	}
	in.Sandboxes = map[string]string{}
	for _, p := range s.Plan.Pods {
		in.Sandboxes[p.ContainerID] = p.Namespace + "/" + p.Name
	}
	return nil
}
