"""Small adapters over AWS clients; each takes its client and speaks the domain's errors."""
