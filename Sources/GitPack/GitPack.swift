/// Git pack files: reading (`PackReader`), delta resolution and import into the object store.
public enum GitPack {}
