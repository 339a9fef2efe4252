// The StreamsJSON module.
