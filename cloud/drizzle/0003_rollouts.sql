CREATE TABLE "rollout_devices" (
	"rollout_id" text NOT NULL,
	"device_id" text NOT NULL,
	"wave" integer,
	"state" text NOT NULL,
	"model_version" integer,
	"variant" text,
	"sha256" text,
	"chunk_size" integer,
	"from_model" jsonb,
	"generation" bigint,
	"flagged" boolean DEFAULT false NOT NULL,
	"claimed" boolean DEFAULT true NOT NULL,
	"reason" text DEFAULT '' NOT NULL,
	"sent_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "rollout_devices_pk" PRIMARY KEY("rollout_id","device_id")
);
--> statement-breakpoint
CREATE TABLE "rollout_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"rollout_id" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"kind" text NOT NULL,
	"wave" integer,
	"device_id" text,
	"reason" text NOT NULL,
	"actor" text DEFAULT 'system' NOT NULL,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rollout_waves" (
	"rollout_id" text NOT NULL,
	"index" integer NOT NULL,
	"status" text NOT NULL,
	"params" jsonb NOT NULL,
	"accepted_failures" integer DEFAULT 0 NOT NULL,
	"started_at" timestamp with time zone,
	"soak_started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	CONSTRAINT "rollout_waves_pk" PRIMARY KEY("rollout_id","index")
);
--> statement-breakpoint
CREATE TABLE "rollouts" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"rollback_of" text,
	"model_name" text NOT NULL,
	"version" integer NOT NULL,
	"target" jsonb NOT NULL,
	"policy" jsonb NOT NULL,
	"seed" integer NOT NULL,
	"status" text NOT NULL,
	"reason" text DEFAULT '' NOT NULL,
	"current_wave" integer DEFAULT 0 NOT NULL,
	"revision" integer DEFAULT 0 NOT NULL,
	"created_by" text DEFAULT 'system' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "rollout_devices" ADD CONSTRAINT "rollout_devices_rollout_id_rollouts_id_fk" FOREIGN KEY ("rollout_id") REFERENCES "public"."rollouts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_events" ADD CONSTRAINT "rollout_events_rollout_id_rollouts_id_fk" FOREIGN KEY ("rollout_id") REFERENCES "public"."rollouts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_waves" ADD CONSTRAINT "rollout_waves_rollout_id_rollouts_id_fk" FOREIGN KEY ("rollout_id") REFERENCES "public"."rollouts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "rollout_devices_claim_idx" ON "rollout_devices" USING btree ("device_id") WHERE "rollout_devices"."claimed";--> statement-breakpoint
CREATE INDEX "rollout_events_rollout_idx" ON "rollout_events" USING btree ("rollout_id","id");--> statement-breakpoint
CREATE INDEX "rollouts_status_idx" ON "rollouts" USING btree ("status");