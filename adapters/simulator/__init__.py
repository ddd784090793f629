"""Local simulator: plays WeChat (and the shopper) against a real kefu over HTTP."""
