// Package workload is what runs inside kinn's pods: a built-in stand-in for
// the `agnhost netexec` image that Kubernetes' network e2e tests use as their
// backend, Kubernetes-style readiness probes, and the `kinn.dev/run`
// annotation that swaps the stand-in for a real program.
//
// Namespaces: a socket belongs to the network namespace of the thread that
// created it, for its whole life, whichever goroutine later reads or
// accepts on it. So Start opens every listening socket inside one call of
// the caller's enter function (kernel.Do in the lab: a locked thread in the
// pod's namespace) and then serves them from ordinary goroutines; accepted
// connections inherit the listener's namespace. Nothing here creates a
// socket outside enter, which is why agnhost's /dial (an outgoing connection
// made while serving) is not offered. Probes take the opposite approach: the
// caller hands in a dialer whose sockets it creates in the node's namespace.
//
// Tests inject an enter that just calls f, so everything but the one
// root-only test runs on loopback in the test's own namespace.
package workload
