package rules

import "net/netip"

type inspectAddr = netip.Addr
