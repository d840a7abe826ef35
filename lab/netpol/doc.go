// Package netpol is kinn's model of Kubernetes NetworkPolicy
// (networking.k8s.io/v1): the API server's defaulting and validation, and an
// evaluator that judges a flow the way the kernel rules will, so that every
// verdict can be explained and compared with what packets did.
//
// A flow is judged after Service DNAT, on pod addresses and ports. It is
// allowed when the source's egress allows it (judged where the source pod
// lives) and the destination's ingress allows it. A direction only restricts
// a pod some policy selects for it ("isolates"); policies are a union, so
// the first allowing rule, in the order the kernel's chains will try them
// (policies by namespace/name, rules by index), is the one reported.
//
// Two flows are never judged: traffic from the destination pod's own node
// (Kubernetes requires kubelet probes to work) and a pod to its own address
// (it never leaves the pod; upstream's tests ignore that diagonal).
//
// Nothing here reads the kernel or the clock: the builder, `kinn netpol
// explain` and `kinn check --matrix` all ask the same functions.
package netpol
