// The StreamsDedup module.
