// The StreamsCore module.
