// Package dslitelive holds the end-to-end test of DS-Lite: home hosts,
// B4s, an IPv6 access network with Kea and dnsmasq, two AFTRs with their
// own pools and an Internet server, each in a network namespace, with
// real applications (curl, python3 http.server, iperf3) across the
// softwires.
package dslitelive
