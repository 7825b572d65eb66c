"""The fault-tolerance suite: the whole pipeline under kill -9 and broker/database restarts."""
