// The StreamsEmbedded module.
