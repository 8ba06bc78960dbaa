// Package harness runs the appliance's data path end to end without
// privileges, in one process: a client gVisor stack and a server gVisor
// stack joined through the appliance's netstack by in-memory pipe links
// (client <-pipe-> appliance client NIC; appliance upstream NIC <-pipe->
// server). The server is reachable only through the appliance.
//
// harness may import netstack and tunnel/pipe; it must not import inspect
// (the appliance package wires detection, and has its own tests).
package harness
