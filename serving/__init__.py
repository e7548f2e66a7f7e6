"""HTTP plumbing the API and the pages share and neither owns: the request's database session,
settings and Temporal client, who the client is, and the rate limiters' shared counts."""
