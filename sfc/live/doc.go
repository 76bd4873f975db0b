// Package live holds the SFC tests between real elements: `wirebeat run`
// processes in network namespaces as boundary and SF nodes, an nftables
// firewall behind the SFC proxy, tshark reading the NSH on the wire,
// scapy writing NSH into the domain, and ncclient reading state and
// notifications over NETCONF.
package live
