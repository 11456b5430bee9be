-- Registered versions, their variants and stored artifacts are immutable: devices hold signed
-- manifests that name them, so a row that changed under them would break verification or, worse,
-- silently point at other bytes. The database refuses the change itself, whoever the writer is.
-- SQLSTATE EL409 lets the cloud map the refusal to the IMMUTABLE error code.
CREATE FUNCTION "edgeloop_refuse_mutation"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'IMMUTABLE: % on % is refused; registered models are immutable', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'EL409';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "model_versions_immutable" BEFORE UPDATE OR DELETE ON "model_versions"
  FOR EACH ROW EXECUTE FUNCTION "edgeloop_refuse_mutation"();
--> statement-breakpoint
CREATE TRIGGER "model_variants_immutable" BEFORE UPDATE OR DELETE ON "model_variants"
  FOR EACH ROW EXECUTE FUNCTION "edgeloop_refuse_mutation"();
--> statement-breakpoint
CREATE TRIGGER "artifacts_immutable" BEFORE UPDATE OR DELETE ON "artifacts"
  FOR EACH ROW EXECUTE FUNCTION "edgeloop_refuse_mutation"();
