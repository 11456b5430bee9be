CREATE TABLE "drift_reports" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"model_name" text NOT NULL,
	"model_version" integer NOT NULL,
	"scope_kind" text NOT NULL,
	"scope" text NOT NULL,
	"profile" text NOT NULL,
	"state" text NOT NULL,
	"changed" boolean NOT NULL,
	"drifted" text[] NOT NULL,
	"samples" integer NOT NULL,
	"windows" integer NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"window_end" timestamp with time zone NOT NULL,
	"report" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "drift_reports_model_idx" ON "drift_reports" USING btree ("model_name","model_version","created_at");