#!/usr/bin/env bash
# The shell-script baseline: the same per-pod work as BenchmarkRawPods (a
# namespace, a veth into the node, an address, link up), done with `ip`
# commands the way a hand-written lab script does it. Prints ms per pod.
# Usage: ip-baseline.sh [PODS]   (as root; creates and removes its own
# namespaces, prefixed kinnipbase-$$). Note that `ip netns add` itself turns
# /run/netns into a shared bind mount the first time, as iproute2 always does;
# kinn never does (umount /run/netns afterwards to undo it).
set -euo pipefail
pods=${1:-200}
p=kinnipbase-$$
cleanup() { for n in $(ip netns list | awk '{print $1}' | grep "^$p-" || true); do ip netns del "$n"; done; }
trap cleanup EXIT
ip netns add "$p-node"
start=$(date +%s%N)
for i in $(seq 1 "$pods"); do
  ip netns add "$p-pod$i"
  ip -n "$p-node" link add "v$i" type veth peer name eth0 netns "$p-pod$i"
  ip -n "$p-node" link set "v$i" up
  ip -n "$p-pod$i" addr add "10.244.$((i / 250)).$((i % 250 + 2))/24" dev eth0
  ip -n "$p-pod$i" link set eth0 up
done
end=$(date +%s%N)
echo "ip script: $pods pods in $(( (end - start) / 1000000 )) ms, $(( (end - start) / pods / 1000 )) us/pod"
