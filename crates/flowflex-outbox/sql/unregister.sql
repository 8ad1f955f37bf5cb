DELETE FROM flowflex_outbox_relays WHERE holder = $1
