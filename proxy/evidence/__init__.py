"""Evidence at containment: recent exchanges per session, frozen into write-once, hashed snapshots."""
