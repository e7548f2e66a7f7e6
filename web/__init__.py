"""The pages: the steering office's dashboard and the commune leaders' inbox, server-rendered
from templates/pages/app/, signed in with a password (the API keeps its bearer tokens)."""
