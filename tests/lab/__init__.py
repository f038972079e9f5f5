"""Real servers on loopback for the integration tests and benchmarks (internal, may change).

`LabNetwork` hands out a private slice of loopback; `CertificateAuthority` issues test
certificates; `Bind`, `Nginx`, `Synapse` run the real Debian/PyPI servers; `latency` adds
simulated wide-area round-trip time in user space.
"""
