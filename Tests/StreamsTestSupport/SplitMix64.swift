// The package's seeded generator (DedupApp's, behind `dedup generate`), for tests that replay a
// failure from its seed.
@_exported public import struct DedupApp.SplitMix64
