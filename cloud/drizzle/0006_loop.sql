CREATE TABLE "alerts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"key" text NOT NULL,
	"kind" text NOT NULL,
	"severity" text NOT NULL,
	"subject" text NOT NULL,
	"message" text NOT NULL,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"opened_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"resolved_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "fleet_samples" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"device_id" text NOT NULL,
	"sample_id" text NOT NULL,
	"model_name" text NOT NULL,
	"model_version" integer NOT NULL,
	"variant" text,
	"captured_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"window_seq" integer,
	"reason" text NOT NULL,
	"predicted_class" integer NOT NULL,
	"confidence" double precision NOT NULL,
	"shape" integer[] NOT NULL,
	"tensor" "bytea" NOT NULL,
	"label" integer,
	"label_source" text,
	"labelled_by" text,
	"labelled_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "retrain_policies" (
	"model_name" text PRIMARY KEY NOT NULL,
	"policy" jsonb NOT NULL,
	"updated_by" text DEFAULT 'system' NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "retrain_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"model_name" text NOT NULL,
	"status" text NOT NULL,
	"trigger" text NOT NULL,
	"trigger_detail" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"champion_version" integer,
	"challenger_version" integer,
	"rollout_id" text,
	"progress" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"evaluation" jsonb,
	"lineage" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"reason" text DEFAULT '' NOT NULL,
	"created_by" text DEFAULT 'system' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "telemetry_windows" ADD COLUMN "shadow" jsonb;--> statement-breakpoint
ALTER TABLE "retrain_policies" ADD CONSTRAINT "retrain_policies_model_name_models_name_fk" FOREIGN KEY ("model_name") REFERENCES "public"."models"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "alerts_open_key_idx" ON "alerts" USING btree ("key") WHERE "alerts"."resolved_at" is null;--> statement-breakpoint
CREATE INDEX "alerts_opened_idx" ON "alerts" USING btree ("opened_at");--> statement-breakpoint
CREATE UNIQUE INDEX "fleet_samples_device_sample_idx" ON "fleet_samples" USING btree ("device_id","sample_id");--> statement-breakpoint
CREATE INDEX "fleet_samples_model_idx" ON "fleet_samples" USING btree ("model_name","received_at");--> statement-breakpoint
CREATE INDEX "retrain_runs_model_idx" ON "retrain_runs" USING btree ("model_name","created_at");