"""The Streamable HTTP data plane (both protocol eras)."""
