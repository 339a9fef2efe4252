// The StreamsTestKit module.
