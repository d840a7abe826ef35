package cli

import (
	"bytes"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"kinn.dev/kinn/lab/cni"
)

// TestPrintCalls: a panic's stack is shown as lines under its call, raw
// stdout too; the table stays aligned around them; a call whose output was
// not accepted does not read "ok".
func TestPrintCalls(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	calls := []cni.Call{
		{Time: at, Command: "ADD", Pod: "default/a", Node: "n1", Plugin: "panicky", ExitStatus: 2,
			Failure: "plugin panicky failed (exit status 2) with no CNI error on stdout; stderr: panic: boom",
			Stderr:  "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/src/main.go:9 +0x1d\n"},
		{Time: at, Command: "ADD", Pod: "default/b", Node: "n1", Plugin: "garbled", Stdout: "configured eth0\n",
			Rejected: "decoding version from network config: unexpected end of JSON input"},
		{Time: at, Command: "DEL", Node: "n1", Plugin: "bridge", Error: &types.Error{Code: 7, Msg: "bad\nthing"}},
	}
	var b bytes.Buffer
	if err := printCalls(&b, calls); err != nil {
		t.Fatal(err)
	}
	want := `TIME          COMMAND  POD        NODE  PLUGIN   TOOK   EXIT  RESULT
03:04:05.000  ADD      default/a  n1    panicky  0.0ms  2     plugin panicky failed (exit status 2) with no CNI error on stdout; stderr: panic: boom
    stderr:
      panic: boom

      goroutine 1 [running]:
      main.main()
          /src/main.go:9 +0x1d
03:04:05.000  ADD      default/b  n1    garbled  0.0ms  0     not accepted: decoding version from network config: unexpected end of JSON input
    stdout, not JSON:
      configured eth0
03:04:05.000  DEL                 n1    bridge   0.0ms  0     error 7: bad thing
`
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
