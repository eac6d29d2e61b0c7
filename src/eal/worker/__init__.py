"""Running background work: the webhook sender and the job worker, in a process of their own or in-process."""
